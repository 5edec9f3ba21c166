// The connection to a ticksync node: Hello, Welcome, the input stream, the
// snapshot stream, redirects, errors and reconnection with resume.
//
// One ArenaClient owns one WebSocket at a time. Everything runs on the page's
// single JavaScript thread: socket events, the input timer (one Input per
// server tick), the stats timer (one Ping and one bytes/s sample per
// second) and the cluster timer (the node list, GET /v1/cluster, after each
// Welcome and every 10 s). The renderer reads view() on each animation frame.
//
// Reconnecting: a dropped connection is retried where it was, then on the
// other nodes of the list, then on the page's node (cluster.ts
// failoverOrder), round and round with jittered exponential backoff; any
// node redirects the page to its match's owner and the resume token keeps
// its seat, so the page survives the death of the node that served it.
//
// Stalls: a seated connection that brings no snapshot for the stall window
// (stall.ts; ClientOptions.stallTimeoutMs, 2 s by default) is dropped by the
// page and resumed the same way, the node that stalled tried last and given
// only the stall window (not connectTimeoutMs) to seat the page again: a
// stopped process keeps its sockets open and never answers.

import { failoverOrder, fetchCluster, normalizeURL, stallFailoverOrder } from "./cluster";
import { applyDelta, DeltaError, type Entity, type World, WorldRing } from "./delta";
import { decodeServerMessage, Encoder, type ServerMsg, type Snapshot, type Welcome } from "./protocol";
import { type StallClock, pageClock, StallWatch, stallWindowMs } from "./stall";

/** Close codes of the node (the README's close-code table). */
export const Close = {
  Normal: 1000,
  GoingAway: 1001,
  TextFrame: 1003,
  Malformed: 1007,
  Policy: 1008,
  TooBig: 1009,
  Internal: 1011,
  Unauthorized: 4002,
  MatchNotFound: 4003,
  MatchFull: 4004,
  ResumeRefused: 4005,
  Replaced: 4006,
  Unavailable: 4007,
  ShuttingDown: 4008,
  NodeFull: 4009,
  SlowConsumer: 4010,
  Redirect: 4011,
  RateLimited: 4012,
  Kicked: 4013,
  MatchEnded: 4014,
} as const;

export type ClientState = "connecting" | "joining" | "playing" | "reconnecting" | "stopped";

/** What the input sampler returns each tick. */
export interface Controls {
  moveX: number; // -100..100
  moveY: number; // -100..100
  aim: number; // 0..65535
  buttons: number;
}

export interface ClientOptions {
  /** The node's game endpoint, ws(s)://host/ws. */
  url: string;
  token?: string;
  matchId?: string;
  name?: string;
  game?: string;
  /** Sampled once per tick for the Input message. */
  controls: () => Controls;
  /**
   * Drop and resume a seated connection that brings no snapshot for this
   * long (ms): a frozen node keeps the socket open and sends nothing.
   * Default 2000; 0 turns the watch off; values under 1000 count as 1000;
   * never less than 8 ticks of the node's tick rate (stall.ts).
   */
  stallTimeoutMs?: number;
  /** The stall watch's clock (tests); default the page's. */
  clock?: StallClock;
}

/**
 * DebugState is what the page exposes as window.__ticksync for tests and
 * for people poking at the console. It is updated in place.
 */
export interface DebugState {
  state: ClientState;
  url: string;
  /** The client URLs of the cluster's live nodes, as last fetched. */
  nodes: string[];
  nodeId: string;
  matchId: string;
  playerId: number;
  ownEntityId: number;
  tick: number;
  entities: number;
  own: Entity | null;
  snapshots: number;
  fullSnapshots: number;
  badSnapshots: number;
  inputSeq: number;
  lastInputSeq: number;
  pingMs: number;
  inputRttMs: number;
  bytesPerSec: number;
  reconnects: number;
  /** Connections the page dropped because no snapshot came for the stall window. */
  stalls: number;
  redirects: number;
  lastClose: number;
  lastError: string;
}

/** What the renderer draws: the two newest worlds and when the newer arrived. */
export interface View {
  prev: World | undefined;
  cur: World | undefined;
  curAt: number;
  tickMs: number;
  ownEntityId: number;
  playerId: number;
}

const connectTimeoutMs = 5000;
// Backoff before reconnect attempt n: uniform in [d/2, d], d = min(2 s,
// 250 ms·2ⁿ). The cap keeps a failover short (the cluster moves a dead
// node's matches within a few seconds) while the jitter spreads the pages
// of a dead node over time.
const baseBackoffMs = 250;
const maxBackoffMs = 2000;
const maxRedirects = 5;
const clusterRefreshMs = 10_000;
const clusterTimeoutMs = 3000;

export class ArenaClient {
  readonly debug: DebugState;
  private readonly enc = new Encoder();
  private readonly worlds = new WorldRing(64);
  private readonly inputSentAt = new Float64Array(256);

  private ws: WebSocket | null = null;
  private url: string;
  private matchId: string;
  private resumeToken = "";
  private tickRate = 30;
  // Input seq keeps counting across reconnects: the room keeps the last
  // applied seq of a resumed player and drops inputs at or below it.
  private seq = 0;
  private ackTick = 0;
  private prev: World | undefined;
  private cur: World | undefined;
  private curAt = 0;
  private attempt = 0;
  // The cluster's client URLs (GET /v1/cluster), and the order in which the
  // current run of reconnect attempts goes through them.
  private known: string[] = [];
  private fetching = false;
  private order: string[] = [];
  private orderPos = 0;
  private redirectsInARow = 0;
  private pendingRedirect = "";
  private lastErrorCode = -1;
  private bytesWindow = 0;
  private inputTimer: ReturnType<typeof setInterval> | undefined;
  private statsTimer: ReturnType<typeof setInterval> | undefined;
  private clusterTimer: ReturnType<typeof setInterval> | undefined;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private watchdog: ReturnType<typeof setTimeout> | undefined;
  // The stall watch of the seated connection, its window, and the URL of a
  // connection that stalled (until the next Welcome).
  private readonly stall: StallWatch;
  private stallMs = 0;
  private stalledURL = "";
  private stallPending = false;

  constructor(private readonly opts: ClientOptions) {
    this.stall = new StallWatch(() => this.stalled(), opts.clock ?? pageClock);
    this.url = opts.url;
    this.matchId = opts.matchId ?? "";
    this.debug = {
      state: "connecting",
      url: opts.url,
      nodes: [],
      nodeId: "",
      matchId: this.matchId,
      playerId: 0,
      ownEntityId: 0,
      tick: 0,
      entities: 0,
      own: null,
      snapshots: 0,
      fullSnapshots: 0,
      badSnapshots: 0,
      inputSeq: 0,
      lastInputSeq: 0,
      pingMs: 0,
      inputRttMs: 0,
      bytesPerSec: 0,
      reconnects: 0,
      stalls: 0,
      redirects: 0,
      lastClose: 0,
      lastError: "",
    };
  }

  /** start opens the first connection, the stats timer and the cluster timer. */
  start(): void {
    this.statsTimer = setInterval(() => this.everySecond(), 1000);
    this.clusterTimer = setInterval(() => this.refreshNodes(), clusterRefreshMs);
    this.connect(this.url);
  }

  /** stop leaves the match (Leave, close 1000) and stops reconnecting. */
  stop(): void {
    this.setState("stopped");
    clearInterval(this.statsTimer);
    clearInterval(this.clusterTimer);
    clearInterval(this.inputTimer);
    clearTimeout(this.retryTimer);
    clearTimeout(this.watchdog);
    this.stall.stop();
    const ws = this.ws;
    this.ws = null;
    if (ws && ws.readyState === WebSocket.OPEN) {
      ws.send(this.enc.leave());
      ws.close(Close.Normal, "leave");
    }
  }

  view(): View {
    return {
      prev: this.prev,
      cur: this.cur,
      curAt: this.curAt,
      tickMs: 1000 / this.tickRate,
      ownEntityId: this.debug.ownEntityId,
      playerId: this.debug.playerId,
    };
  }

  private setState(s: ClientState): void {
    this.debug.state = s;
  }

  private connect(url: string): void {
    clearTimeout(this.retryTimer);
    this.url = url;
    this.debug.url = url;
    this.setState("connecting");
    let ws: WebSocket;
    try {
      ws = new WebSocket(url);
    } catch (e) {
      this.debug.lastError = `cannot connect to ${url}: ${String(e)}`;
      this.scheduleReconnect(0);
      return;
    }
    ws.binaryType = "arraybuffer";
    this.ws = ws;
    // The watchdog closes a socket that neither opens nor gets a Welcome in time.
    this.armWatchdog(ws);
    ws.onopen = () => {
      if (this.ws !== ws) return;
      this.setState("joining");
      this.armWatchdog(ws);
      const resume = this.resumeToken !== "";
      ws.send(
        this.enc.hello({
          token: this.opts.token,
          matchId: this.matchId,
          resumeToken: this.resumeToken,
          lastTick: resume ? this.ackTick : 0,
          name: this.opts.name,
          game: this.opts.game,
        }),
      );
    };
    ws.onmessage = (ev: MessageEvent) => {
      if (this.ws !== ws) return;
      if (!(ev.data instanceof ArrayBuffer)) {
        this.debug.lastError = "unexpected text frame from the server";
        return;
      }
      this.bytesWindow += ev.data.byteLength;
      let msg: ServerMsg;
      try {
        msg = decodeServerMessage(new Uint8Array(ev.data));
      } catch (e) {
        this.debug.lastError = String(e);
        this.debug.badSnapshots++;
        return;
      }
      this.handle(ws, msg);
    };
    ws.onclose = (ev: CloseEvent) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.closed(ev.code, ev.reason);
    };
  }

  // armWatchdog closes a socket that neither opens nor gets a Welcome in
  // time: connectTimeoutMs, or the stall window on a node that stalled.
  private armWatchdog(ws: WebSocket): void {
    clearTimeout(this.watchdog);
    let ms = connectTimeoutMs;
    if (this.stalledURL !== "" && this.stallMs > 0 && normalizeURL(this.url) === this.stalledURL) {
      ms = Math.min(ms, this.stallMs);
    }
    this.watchdog = setTimeout(() => {
      if (this.ws === ws && this.debug.state !== "playing") ws.close();
    }, ms);
  }

  // stalled drops the seated connection that brought no snapshot for the
  // stall window. A stopped node never answers a close frame, so the page
  // does not wait for onclose: it lets go of the socket and goes on as
  // after a loss, the stalled node last.
  private stalled(): void {
    const ws = this.ws;
    if (!ws || this.debug.state !== "playing") return;
    this.debug.stalls++;
    this.debug.lastError = `no snapshot for ${Math.round(this.stallMs)} ms: reconnecting`;
    this.stalledURL = normalizeURL(this.url);
    this.stallPending = true;
    this.ws = null;
    ws.onopen = ws.onmessage = ws.onclose = null;
    try {
      ws.close(Close.Normal, "stalled");
    } catch {
      // Already closing.
    }
    this.closed(Close.Normal, "stalled");
  }

  private handle(ws: WebSocket, msg: ServerMsg): void {
    switch (msg.kind) {
      case "welcome":
        this.welcome(ws, msg);
        break;
      case "snapshot":
        // Any snapshot, applied or not: the room is ticking.
        this.stall.snapshot();
        this.snapshot(msg);
        break;
      case "redirect":
        // The node closes with 4011 next; we go at once.
        this.pendingRedirect = toWebSocketURL(msg.url);
        if (msg.matchId) this.matchId = msg.matchId;
        ws.close(Close.Normal, "redirected");
        break;
      case "error":
        this.lastErrorCode = msg.code;
        this.debug.lastError = `${msg.message || "error"} (code ${msg.code})`;
        break;
      case "pong": {
        const sent = Number(msg.clientTime) / 1000;
        this.debug.pingMs = Math.max(0, Math.round(performance.now() - sent));
        break;
      }
    }
  }

  private welcome(ws: WebSocket, w: Welcome): void {
    clearTimeout(this.watchdog);
    const sameSeat = w.matchId === this.debug.matchId && w.playerId === this.debug.playerId;
    // Keep our worlds (the baselines our acks name) only when the same node
    // resumes the same seat with no rollback of ticks. A new seat has nothing
    // to do with them; after a failover or a move the new owner restored a
    // checkpoint and runs on from it, so its tick N is not the world we hold
    // as tick N (even when it has ticked past our newest since): a delta
    // against it would build a wrong world. With no worlds we ack 0, which
    // asks for a full snapshot.
    if (!sameSeat || w.nodeId !== this.debug.nodeId || w.serverTick < this.ackTick) {
      this.worlds.clear();
      this.ackTick = 0;
      this.prev = this.cur = undefined;
      this.debug.own = null;
    }
    this.resumeToken = w.resumeToken;
    this.matchId = w.matchId;
    this.tickRate = w.tickRate > 0 ? w.tickRate : 30;
    this.attempt = 0;
    this.order = [];
    this.redirectsInARow = 0;
    this.lastErrorCode = -1;
    Object.assign(this.debug, {
      nodeId: w.nodeId,
      matchId: w.matchId,
      playerId: w.playerId,
      ownEntityId: w.entityId,
      lastError: "",
    });
    this.setState("playing");
    // The first snapshot is due within the stall window of the Welcome.
    this.stalledURL = "";
    this.stallMs = stallWindowMs(this.opts.stallTimeoutMs, this.tickRate);
    this.stall.arm(this.stallMs);
    clearInterval(this.inputTimer);
    this.inputTimer = setInterval(() => this.sendInput(ws), 1000 / this.tickRate);
    this.sendInput(ws);
    this.refreshNodes();
  }

  // refreshNodes fetches the node list from the node we play on, at most one
  // fetch at a time. A failure (an old node without the endpoint, a timeout)
  // or an empty list keeps the list we had.
  private refreshNodes(): void {
    if (this.fetching || this.debug.state !== "playing") return;
    this.fetching = true;
    fetchCluster(this.url, clusterTimeoutMs)
      .then((nodes) => {
        if (nodes.length === 0 || this.debug.state === "stopped") return;
        this.known = nodes.map((n) => n.url);
        this.debug.nodes = this.known.slice();
      })
      .catch(() => {})
      .finally(() => {
        this.fetching = false;
      });
  }

  private snapshot(s: Snapshot): void {
    let base: readonly Entity[] = [];
    if (s.baselineTick !== 0) {
      const b = this.worlds.get(s.baselineTick);
      if (!b) {
        // Not ours to apply; the next one is against what we ack.
        this.debug.badSnapshots++;
        return;
      }
      base = b.entities;
    }
    let entities: Entity[];
    try {
      const dt = s.baselineTick === 0 ? 0 : (s.tick - s.baselineTick) >>> 0;
      entities = applyDelta(base, dt, s.spawned, s.changes, s.removed);
    } catch (e) {
      if (!(e instanceof DeltaError)) throw e;
      this.debug.badSnapshots++;
      this.debug.lastError = e.message;
      return;
    }
    const world: World = { tick: s.tick, entities };
    this.worlds.put(world);
    this.debug.snapshots++;
    if (s.baselineTick === 0) this.debug.fullSnapshots++;
    if (s.lastInputSeq > 0 && s.lastInputSeq > this.debug.lastInputSeq) {
      const sent = this.inputSentAt[s.lastInputSeq % this.inputSentAt.length]!;
      if (sent > 0) this.debug.inputRttMs = Math.round(performance.now() - sent);
      this.debug.lastInputSeq = s.lastInputSeq;
    }
    if (this.cur && s.tick <= this.cur.tick) return;
    this.prev = this.cur;
    this.cur = world;
    this.curAt = performance.now();
    this.ackTick = s.tick;
    const d = this.debug;
    d.tick = s.tick;
    d.entities = entities.length;
    d.own = findOwn(entities, d.ownEntityId, d.playerId) ?? null;
  }

  private sendInput(ws: WebSocket): void {
    if (this.ws !== ws || ws.readyState !== WebSocket.OPEN) return;
    const c = this.opts.controls();
    this.seq++;
    this.inputSentAt[this.seq % this.inputSentAt.length] = performance.now();
    this.debug.inputSeq = this.seq;
    ws.send(
      this.enc.input({
        seq: this.seq,
        targetTick: this.ackTick + 1,
        ackTick: this.ackTick,
        moveX: c.moveX,
        moveY: c.moveY,
        aim: c.aim,
        buttons: c.buttons,
      }),
    );
  }

  private everySecond(): void {
    this.debug.bytesPerSec = this.bytesWindow;
    this.bytesWindow = 0;
    const ws = this.ws;
    if (ws && ws.readyState === WebSocket.OPEN && this.debug.state === "playing") {
      // client_time in microseconds of the page clock; the Pong echoes it.
      ws.send(this.enc.ping(BigInt(Math.round(performance.now() * 1000))));
    }
  }

  // closed decides what a closed socket means (the README's close-code table).
  private closed(code: number, reason: string): void {
    clearInterval(this.inputTimer);
    clearTimeout(this.watchdog);
    this.stall.stop();
    const stalled = this.stallPending;
    this.stallPending = false;
    if (this.debug.state === "stopped") return;
    this.debug.lastClose = code;
    this.setState("reconnecting");
    if (this.pendingRedirect) {
      const url = this.pendingRedirect;
      this.pendingRedirect = "";
      this.debug.redirects++;
      if (++this.redirectsInARow <= maxRedirects) {
        this.connect(url);
      } else {
        this.debug.lastError = `too many redirects (last to ${url})`;
        this.redirectsInARow = 0;
        this.url = this.opts.url;
        this.scheduleReconnect(this.attempt++);
      }
      return;
    }
    // An Error message comes just before its 4000+N close; if the close frame
    // was lost (1006), the message still tells what happened.
    if (code < 4000 && this.lastErrorCode > 0) code = 4000 + this.lastErrorCode;
    this.lastErrorCode = -1;
    switch (code) {
      case Close.Unauthorized:
      case Close.Replaced:
      case Close.Kicked:
      case Close.MatchEnded:
        // Retrying cannot help: the token is bad, another tab took the seat,
        // or an operator removed the player or ended the match.
        if (!this.debug.lastError) this.debug.lastError = reason || `closed with ${code}`;
        this.stop();
        return;
      case Close.MatchNotFound:
      case Close.MatchFull:
        // Back to matchmaking on the node that served the page.
        this.matchId = this.opts.matchId && code === Close.MatchFull ? this.opts.matchId : "";
        this.resumeToken = "";
        this.url = this.opts.url;
        this.scheduleReconnect(this.attempt++);
        return;
      case Close.ResumeRefused:
        this.resumeToken = "";
        this.matchId = this.opts.matchId ?? "";
        this.connect(this.opts.url);
        return;
      default:
        if (code !== Close.Normal && code !== Close.GoingAway && !this.debug.lastError) {
          this.debug.lastError = `connection closed (${code}${reason ? ": " + reason : ""})`;
        }
        // A redirect that ends in a failed connection is no redirect loop.
        this.redirectsInARow = 0;
        // The first retry goes where we were, the next ones to the other
        // nodes we know, then to the page's node, and round again; each
        // redirects us if the match moved.
        // After a stall the stalled node goes last.
        if (this.order.length === 0) {
          const order = stalled ? stallFailoverOrder : failoverOrder;
          this.order = order(this.url, this.known, this.opts.url);
          this.orderPos = 0;
        }
        this.url = this.order[this.orderPos++ % this.order.length] ?? this.opts.url;
        this.scheduleReconnect(this.attempt++);
    }
  }

  private scheduleReconnect(attempt: number): void {
    this.setState("reconnecting");
    this.debug.reconnects++;
    const ms = Math.min(maxBackoffMs, baseBackoffMs * 2 ** Math.min(attempt, 5)) * (0.5 + Math.random() / 2);
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.connect(this.url), ms);
  }
}

/** findOwn returns the player's entity: by id from Welcome, else by owner. */
export function findOwn(entities: readonly Entity[], entityId: number, playerId: number): Entity | undefined {
  if (entityId !== 0) return entities.find((e) => e.id === entityId);
  if (playerId !== 0) return entities.find((e) => e.owner === playerId);
  return undefined;
}

/** toWebSocketURL accepts a ws(s) URL or an http(s) one and returns ws(s). */
export function toWebSocketURL(u: string): string {
  if (u.startsWith("https://")) return "wss://" + u.slice(8);
  if (u.startsWith("http://")) return "ws://" + u.slice(7);
  return u;
}
