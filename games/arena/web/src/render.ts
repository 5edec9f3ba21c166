// Canvas rendering of the arena: the floor, every entity (own avatar
// highlighted, other players, NPCs), facing and hp bars. Positions are
// interpolated between the two newest snapshots, so the picture runs one
// tick behind the newest state and moves smoothly between ticks.

import type { ArenaEntity as Entity, View } from "./arena";

/** Arena side in wire units (1000 units of 1/16). */
export const ArenaSize = 1000 * 16;
/** The hp an entity starts with; bars show hp against it. */
const fullHP = 100;
/** Teleports (respawns) are not interpolated: a jump longer than this snaps. */
const maxLerp = 200 * 16;

const colors = {
  background: "#0b0e14",
  floor: "#141a24",
  grid: "#1d2533",
  border: "#3a4a63",
  own: "#ffd23f",
  ownRing: "#ffffff",
  player: "#4cc9f0",
  npc: "#e76f51",
  facing: "rgba(255,255,255,0.85)",
  hpBack: "#4a1010",
  hpFill: "#57cc99",
  label: "#d8e1ee",
};

export class Renderer {
  private readonly ctx: CanvasRenderingContext2D;
  private size = 0; // canvas side in CSS pixels
  private originX = 0;
  private originY = 0;

  constructor(private readonly canvas: HTMLCanvasElement) {
    const ctx = canvas.getContext("2d");
    if (!ctx) throw new Error("canvas 2d context unavailable");
    this.ctx = ctx;
  }

  /** resize fits the canvas to the window, sharp on high-dpi screens. */
  resize(width: number, height: number, dpr: number): void {
    this.canvas.width = Math.floor(width * dpr);
    this.canvas.height = Math.floor(height * dpr);
    this.canvas.style.width = `${width}px`;
    this.canvas.style.height = `${height}px`;
    this.ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    // The HUD sits in a band along the top; the arena is the largest
    // square below it.
    const top = 36;
    const bottom = 24;
    this.size = Math.max(100, Math.min(width - 16, height - top - bottom));
    this.originX = (width - this.size) / 2;
    this.originY = top + Math.max(0, (height - top - bottom - this.size) / 2);
  }

  /** toCanvas maps a wire position to canvas CSS pixels. */
  toCanvas(x: number, y: number): { x: number; y: number } {
    const s = this.size / ArenaSize;
    return { x: this.originX + x * s, y: this.originY + y * s };
  }

  /**
   * draw renders one frame and returns the own entity's canvas position
   * (for aiming), or null when it is not in the world.
   */
  draw(v: View, now: number): { x: number; y: number } | null {
    const ctx = this.ctx;
    const w = this.canvas.width;
    const h = this.canvas.height;
    ctx.save();
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.fillStyle = colors.background;
    ctx.fillRect(0, 0, w, h);
    ctx.restore();
    this.drawFloor();
    const cur = v.cur;
    if (!cur) return null;

    const prev = new Map<number, Entity>();
    if (v.prev) for (const e of v.prev) prev.set(e.id, e);
    const alpha = Math.max(0, Math.min(1, (now - v.curAt) / v.tickMs));
    const s = this.size / ArenaSize;
    let own: { x: number; y: number } | null = null;
    let ownEntity: Entity | null = null;
    for (const e of cur) {
      const p = prev.get(e.id);
      let x = e.x;
      let y = e.y;
      if (p && Math.abs(e.x - p.x) < maxLerp && Math.abs(e.y - p.y) < maxLerp) {
        x = p.x + (e.x - p.x) * alpha;
        y = p.y + (e.y - p.y) * alpha;
      }
      const c = this.toCanvas(x, y);
      const isOwn = v.ownEntityId !== 0 ? e.id === v.ownEntityId : v.playerId !== 0 && e.owner === v.playerId;
      if (isOwn) {
        // Drawn last, on top of everything else.
        own = c;
        ownEntity = e;
        continue;
      }
      this.drawEntity(e, c.x, c.y, s, e.kind === "Npc" ? colors.npc : colors.player, false);
    }
    if (own && ownEntity) this.drawEntity(ownEntity, own.x, own.y, s, colors.own, true);
    return own;
  }

  private drawFloor(): void {
    const ctx = this.ctx;
    const { originX: x0, originY: y0, size } = this;
    ctx.fillStyle = colors.floor;
    ctx.fillRect(x0, y0, size, size);
    ctx.strokeStyle = colors.grid;
    ctx.lineWidth = 1;
    ctx.beginPath();
    for (let i = 1; i < 10; i++) {
      const d = Math.round((size * i) / 10) + 0.5;
      ctx.moveTo(x0 + d, y0);
      ctx.lineTo(x0 + d, y0 + size);
      ctx.moveTo(x0, y0 + d);
      ctx.lineTo(x0 + size, y0 + d);
    }
    ctx.stroke();
    ctx.strokeStyle = colors.border;
    ctx.lineWidth = 2;
    ctx.strokeRect(x0, y0, size, size);
  }

  private drawEntity(e: Entity, x: number, y: number, s: number, color: string, own: boolean): void {
    const ctx = this.ctx;
    const r = Math.max(4, (e.kind === "Npc" ? 11 : 14) * 16 * s);
    ctx.fillStyle = color;
    ctx.beginPath();
    ctx.arc(x, y, r, 0, 2 * Math.PI);
    ctx.fill();
    if (own) {
      ctx.strokeStyle = colors.ownRing;
      ctx.lineWidth = 2;
      ctx.beginPath();
      ctx.arc(x, y, r + 4, 0, 2 * Math.PI);
      ctx.stroke();
    }
    // Facing.
    const a = (e.angle / 65536) * 2 * Math.PI;
    ctx.strokeStyle = colors.facing;
    ctx.lineWidth = 2;
    ctx.beginPath();
    ctx.moveTo(x, y);
    ctx.lineTo(x + Math.cos(a) * r * 1.4, y + Math.sin(a) * r * 1.4);
    ctx.stroke();
    // Hp bar.
    const bw = r * 2.2;
    const by = y - r - 9;
    ctx.fillStyle = colors.hpBack;
    ctx.fillRect(x - bw / 2, by, bw, 4);
    ctx.fillStyle = colors.hpFill;
    ctx.fillRect(x - bw / 2, by, (bw * Math.min(e.hp, fullHP)) / fullHP, 4);
    if (e.kind !== "Npc") {
      ctx.fillStyle = colors.label;
      ctx.font = "11px system-ui, sans-serif";
      ctx.textAlign = "center";
      ctx.fillText(own ? "you" : `P${e.owner}`, x, by - 4);
    }
  }
}
