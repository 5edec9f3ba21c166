// The page's session: joins the arena through @ticksync/client and keeps
// what the renderer draws and what window.__ticksync shows.
//
// Everything about the connection (Hello/Welcome, one Input per tick,
// snapshots, redirects, resume, the node list, stalls, failover) is the
// library's Room. The page reads the arena generically: entities by kind
// name ("Avatar", "Npc") and fields by name (x, y, vx, vy, angle, hp: the
// arena schema's Avatar and Npc tables; positions in 1/16 units), and it
// sends inputs as values of the schema's Input table (move_x, move_y, aim,
// buttons), which the library builds.
//
// Errors: passing ones (a lost connection being resumed, a stall) show in
// lastError until the next Welcome. Of the errors that close a room, a
// match that is gone sends the page back to matchmaking, a full match or
// a refused resume back to the match the URL names (else matchmaking): a
// new Room, a second later, up to 5 times in a row. The others (bad
// token, replaced by another tab, kicked, match ended, schema mismatch)
// stop the page with the message shown.

import {
  type Client, type ClientOptions, connect, ErrorCode, type GameEntity, type GameWorld, type Room, type RoomStats,
  type TicksyncError,
} from "@ticksync/client";

/** The game the page plays. */
export const Game = "arena";

/** The page's state, as window.__ticksync.state shows it. */
export type PageState = "connecting" | "joining" | "playing" | "reconnecting" | "stopped";

/** One arena entity as the page reads it from the generic world (wire units). */
export interface ArenaEntity {
  id: number;
  owner: number;
  /** the entity's kind: "Avatar" (a player) or "Npc" */
  kind: string;
  x: number;
  y: number;
  vx: number;
  vy: number;
  angle: number;
  hp: number;
}

/** What the page sends each tick: the values of the arena's Input table. */
export interface Controls {
  moveX: number; // -100..100
  moveY: number; // -100..100
  aim: number; // 0..65535
  buttons: number;
}

/**
 * DebugState is window.__ticksync: what tests and people at the console
 * read. It is updated in place.
 */
export interface DebugState {
  state: PageState;
  /** the game endpoint played on (or tried next) */
  url: string;
  /** the client URLs of the cluster's live nodes, as last fetched (GET /v1/cluster) */
  nodes: string[];
  game: string;
  schemaHash: string;
  nodeId: string;
  matchId: string;
  playerId: number;
  ownEntityId: number;
  tick: number;
  entities: number;
  own: ArenaEntity | null;
  snapshots: number;
  fullSnapshots: number;
  badSnapshots: number;
  inputSeq: number;
  lastInputSeq: number;
  pingMs: number;
  inputRttMs: number;
  bytesPerSec: number;
  reconnects: number;
  /** connections dropped because no snapshot came for the stall window */
  stalls: number;
  redirects: number;
  lastClose: number;
  lastError: string;
}

/** What the renderer draws: the two newest worlds and when the newer arrived. */
export interface View {
  prev: ArenaEntity[] | undefined;
  cur: ArenaEntity[] | undefined;
  curAt: number;
  tickMs: number;
  ownEntityId: number;
  playerId: number;
}

export interface SessionOptions {
  /** the node's game endpoint, ws(s)://host/ws */
  url: string;
  name?: string;
  token?: string;
  /** join this match (else matchmaking) */
  matchId?: string;
  /** the stall timeout (ms): undefined the library's default (2000), 0 off, under 1000 counts as 1000 */
  stallTimeoutMs?: number;
  /** sampled once per tick for the input */
  controls: () => Controls;
  /** test hook: options passed to connect (WebSocket, fetch) */
  client?: Partial<ClientOptions>;
}

/** Counters carried over from rooms the page left (after a refused resume, say). */
type Counters = Pick<RoomStats, "snapshots" | "fullSnapshots" | "badSnapshots" | "reconnects" | "stalls" | "redirects">;
const counterNames: (keyof Counters)[] = ["snapshots", "fullSnapshots", "badSnapshots", "reconnects", "stalls", "redirects"];

// Errors of a closed room after which the page goes back to matchmaking.
const rejoinCodes = new Set<number>([ErrorCode.MatchNotFound, ErrorCode.MatchFull, ErrorCode.ResumeRefused]);
const rejoinDelayMs = 1000;
// A rejoin that keeps failing gives up after this many tries in a row.
const maxRejoins = 5;

/** stallOption maps the ?stall= parameter to ClientOptions.stallTimeoutMs. */
export function stallOption(param: string | null): number | undefined {
  if (param === null || param.trim() === "") return undefined;
  const v = Number(param);
  if (!Number.isFinite(v)) return undefined;
  return v <= 0 ? 0 : Math.max(1000, v);
}

/** readEntities reads the arena's entities (Avatar, Npc) of a generic world, by ascending id. */
export function readEntities(w: GameWorld): ArenaEntity[] {
  const out: ArenaEntity[] = [];
  for (const e of w.entities) out.push(readEntity(e));
  return out;
}

/** readEntity reads one entity's arena fields by name (absent fields read 0). */
export function readEntity(e: GameEntity): ArenaEntity {
  const f = e.fields;
  const num = (name: string): number => {
    const v = f[name];
    return typeof v === "number" ? v : typeof v === "bigint" ? Number(v) : 0;
  };
  const kind = e.kind.slice(e.kind.lastIndexOf(".") + 1);
  return { id: e.id, owner: e.owner, kind, x: num("x"), y: num("y"), vx: num("vx"), vy: num("vy"), angle: num("angle"), hp: num("hp") };
}

/** inputValues is the arena Input table's values for controls. */
export function inputValues(c: Controls): { move_x: number; move_y: number; aim: number; buttons: number } {
  const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, Math.round(v) || 0));
  return { move_x: clamp(c.moveX, -100, 100), move_y: clamp(c.moveY, -100, 100), aim: clamp(c.aim, 0, 65535), buttons: clamp(c.buttons, 0, 255) };
}

/** findOwn returns the player's entity: by id from Welcome, else by owner. */
export function findOwn(entities: readonly ArenaEntity[], entityId: number, playerId: number): ArenaEntity | undefined {
  if (entityId !== 0) return entities.find((e) => e.id === entityId);
  if (playerId !== 0) return entities.find((e) => e.owner === playerId && e.kind === "Avatar");
  return undefined;
}

/**
 * Session plays the arena for the page: one Room at a time. Everything
 * runs on the page's thread (the library's callbacks and the timers here).
 */
export class Session {
  readonly debug: DebugState;
  private readonly client: Client;
  private room: Room | undefined;
  private prev: ArenaEntity[] | undefined;
  private cur: ArenaEntity[] | undefined;
  private curAt = 0;
  private stopped = false;
  private matchId: string;
  private rejoins = 0;
  private errorAt = -1; // the room's Welcome count when lastError was set; -1: fatal (kept)
  private bytesSeen = 0;
  private readonly past: Counters = { snapshots: 0, fullSnapshots: 0, badSnapshots: 0, reconnects: 0, stalls: 0, redirects: 0 };
  private inputTimer: ReturnType<typeof setInterval> | undefined;
  private statsTimer: ReturnType<typeof setInterval> | undefined;
  private rejoinTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly opts: SessionOptions) {
    this.matchId = opts.matchId ?? "";
    this.client = connect(opts.url, {
      name: opts.name,
      token: opts.token,
      stallTimeoutMs: opts.stallTimeoutMs,
      discoverNodes: true,
      pingIntervalMs: 1000,
      ...opts.client,
    });
    this.debug = {
      state: "connecting", url: opts.url, nodes: [], game: Game, schemaHash: "", nodeId: "", matchId: this.matchId,
      playerId: 0, ownEntityId: 0, tick: 0, entities: 0, own: null, snapshots: 0, fullSnapshots: 0, badSnapshots: 0,
      inputSeq: 0, lastInputSeq: 0, pingMs: 0, inputRttMs: 0, bytesPerSec: 0, reconnects: 0, stalls: 0, redirects: 0,
      lastClose: 0, lastError: "",
    };
  }

  /** start joins (the match given, else matchmaking) and starts the stats timer. */
  start(): void {
    this.statsTimer = setInterval(() => this.everySecond(), 1000);
    void this.join();
  }

  /** stop leaves the match and stops for good. */
  stop(): void {
    this.stopped = true;
    this.debug.state = "stopped";
    clearInterval(this.inputTimer);
    clearInterval(this.statsTimer);
    clearTimeout(this.rejoinTimer);
    this.room?.close();
  }

  view(): View {
    return {
      prev: this.prev, cur: this.cur, curAt: this.curAt, tickMs: 1000 / (this.room?.tickRate || 30),
      ownEntityId: this.debug.ownEntityId, playerId: this.debug.playerId,
    };
  }

  private async join(): Promise<void> {
    if (this.stopped) return;
    this.debug.state = "joining";
    let room: Room;
    try {
      room = this.matchId
        ? await this.client.join(this.matchId, undefined, { game: Game })
        : await this.client.joinOrCreate(Game);
    } catch (e) {
      this.joinFailed(e as TicksyncError);
      return;
    }
    if (this.stopped) {
      room.close();
      return;
    }
    this.seated(room);
  }

  private seated(room: Room): void {
    this.room = room;
    this.rejoins = 0;
    this.prev = this.cur = undefined;
    this.debug.game = room.game;
    this.debug.schemaHash = room.schema.hash;
    let welcomes = room.stats.welcomes;
    room.onState((w) => {
      if (this.room !== room) return;
      if (room.stats.welcomes !== welcomes) {
        // A resume: what went wrong before it is over, and on another
        // node the worlds start over.
        welcomes = room.stats.welcomes;
        if (this.errorAt >= 0 && this.errorAt < welcomes) this.debug.lastError = "";
        if (room.nodeId !== this.debug.nodeId) this.prev = this.cur = undefined;
      }
      const ents = readEntities(w);
      this.prev = this.cur;
      this.cur = ents;
      this.curAt = performance.now();
      const d = this.debug;
      d.tick = w.tick;
      d.entities = ents.length;
      d.own = findOwn(ents, room.entityId, room.playerId) ?? null;
      this.sync();
    });
    room.onError((e) => {
      if (this.room !== room) return;
      if (!e.fatal) {
        this.debug.lastError = e.message;
        this.errorAt = room.stats.welcomes;
        this.sync();
        return;
      }
      this.roomClosed(room, e);
    });
    clearInterval(this.inputTimer);
    this.inputTimer = setInterval(() => this.sendInput(room), 1000 / (room.tickRate || 30));
    this.sendInput(room);
    this.debug.lastError = "";
    this.sync();
  }

  private sendInput(room: Room): void {
    if (this.room !== room || room.state === "closed") return;
    room.sendInput(inputValues(this.opts.controls()));
  }

  /** sync copies the room's figures into debug (the page calls it with each HUD update). */
  sync(): void {
    const room = this.room;
    const d = this.debug;
    if (!room) return;
    if (!this.stopped) d.state = room.state === "closed" ? "stopped" : room.state;
    d.url = room.url;
    d.nodes = [...room.nodes];
    d.nodeId = room.nodeId;
    d.matchId = room.matchId;
    d.playerId = room.playerId;
    d.ownEntityId = room.entityId;
    const s = room.stats;
    for (const k of counterNames) d[k] = this.past[k] + s[k];
    d.inputSeq = s.inputSeq;
    d.lastInputSeq = s.lastInputSeq;
    d.pingMs = s.pingMs;
    d.inputRttMs = s.inputRttMs;
    d.lastClose = s.lastClose;
  }

  private everySecond(): void {
    const room = this.room;
    if (!room) return;
    this.sync();
    const total = room.stats.bytesReceived;
    this.debug.bytesPerSec = total - this.bytesSeen;
    this.bytesSeen = total;
  }

  // roomClosed handles an error that closed the room: back to matchmaking
  // where that can mend it, else stop with the message shown.
  private roomClosed(room: Room, e: TicksyncError): void {
    this.sync();
    for (const k of counterNames) this.past[k] += room.stats[k];
    this.room = undefined;
    this.bytesSeen = 0;
    clearInterval(this.inputTimer);
    this.debug.lastError = e.message;
    this.errorAt = -1;
    if (rejoinCodes.has(e.code)) {
      this.rejoin(e);
      return;
    }
    this.stop();
  }

  private joinFailed(e: TicksyncError): void {
    if (this.stopped) return;
    this.debug.lastError = e.message;
    this.errorAt = -1;
    if (e.closeCode) this.debug.lastClose = e.closeCode;
    if (rejoinCodes.has(e.code) || !e.fatal || e.code === ErrorCode.Unavailable) {
      this.rejoin(e);
      return;
    }
    this.stop();
  }

  // rejoin joins again after a delay: a match that is gone goes back to
  // matchmaking; after a full match or a refused resume, the match given
  // in the URL (if any) is tried again, else matchmaking.
  private rejoin(e: TicksyncError): void {
    if (++this.rejoins > maxRejoins) {
      this.stop();
      return;
    }
    this.matchId = e.code === ErrorCode.MatchFull || e.code === ErrorCode.ResumeRefused ? (this.opts.matchId ?? "") : "";
    this.debug.state = "reconnecting";
    clearTimeout(this.rejoinTimer);
    this.rejoinTimer = setTimeout(() => void this.join(), rejoinDelayMs);
  }
}
