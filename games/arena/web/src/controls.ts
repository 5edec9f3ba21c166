// Keyboard and pointer input: WASD or the arrow keys move, the pointer aims.

import type { Controls } from "./arena";

const keyAxes: Record<string, [number, number]> = {
  KeyW: [0, -1],
  ArrowUp: [0, -1],
  KeyS: [0, 1],
  ArrowDown: [0, 1],
  KeyA: [-1, 0],
  ArrowLeft: [-1, 0],
  KeyD: [1, 0],
  ArrowRight: [1, 0],
};

/**
 * KeyboardControls tracks held keys and the pointer. aimFrom is set by the
 * renderer each frame: the own entity's position in canvas pixels.
 */
export class KeyboardControls {
  private readonly held = new Set<string>();
  private pointer: { x: number; y: number } | null = null;
  private aim = 0;
  aimFrom: { x: number; y: number } | null = null;

  constructor(target: Window, canvas: HTMLCanvasElement) {
    target.addEventListener("keydown", (e) => {
      if (e.code in keyAxes) {
        this.held.add(e.code);
        e.preventDefault();
      }
    });
    target.addEventListener("keyup", (e) => {
      this.held.delete(e.code);
    });
    // Keys held while the window loses focus never get their keyup.
    target.addEventListener("blur", () => this.held.clear());
    canvas.addEventListener("pointermove", (e) => {
      const r = canvas.getBoundingClientRect();
      this.pointer = { x: e.clientX - r.left, y: e.clientY - r.top };
    });
  }

  /** sample returns the controls for the next Input. */
  sample(): Controls {
    let x = 0;
    let y = 0;
    for (const k of this.held) {
      const a = keyAxes[k];
      if (a) {
        x += a[0];
        y += a[1];
      }
    }
    x = Math.sign(x);
    y = Math.sign(y);
    // Diagonals move at the same speed as straight lines.
    const scale = x !== 0 && y !== 0 ? Math.SQRT1_2 : 1;
    if (this.pointer && this.aimFrom) {
      const a = Math.atan2(this.pointer.y - this.aimFrom.y, this.pointer.x - this.aimFrom.x);
      this.aim = Math.round(((a / (2 * Math.PI) + 1) % 1) * 65536) & 0xffff;
    }
    return { moveX: Math.round(x * 100 * scale), moveY: Math.round(y * 100 * scale), aim: this.aim, buttons: 0 };
  }
}
