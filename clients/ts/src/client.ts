// The game client: joins a match of any game on a ticksync cluster and
// plays it through the game's own schema.
//
//   const client = connect(["wss://n1.example/ws", "wss://n2.example/ws"]);
//   const room = await client.joinOrCreate("cards", { name: "ann" });
//   room.onState((world, tick) => draw(world.ofKind("Card")));
//   room.onEvent((e) => log(e.name, e.values));
//   room.sendInput({ pointer: { x: 1.5, y: 0, z: 2 }, grab: true });
//   room.sendEvent("PlayCard", { suit: "Hearts", rank: 12 });
//
// A Room owns one seat and one WebSocket at a time; everything runs on the
// caller's single JavaScript thread (socket callbacks and timers). Data
// flows:
//
//   - Hello carries the join payload (built from values with the schema's
//     join table), the game, and the schema's hash, so a node whose match
//     speaks another schema refuses with Error 16 instead of sending bytes
//     this client would misread.
//   - Each Snapshot: its server events with a seq above the newest received
//     are decoded and handed to onEvent (in seq order, before the state);
//     its gamedelta state is applied by the Receiver against the baseline
//     the client acknowledged, and the world handed to onState.
//   - Nothing arrives before its listener: the first messages of a seat can
//     come in the same turn as the Welcome, before the application (which
//     awaits joinOrCreate) has registered anything. Events that find no
//     onEvent listener are held (the newest MaxHeldEvents) and the newest
//     world that finds no onState listener is held; a listener registered
//     later gets them in a microtask (events in seq order, then the world),
//     each once. Until that microtask has run, what arrives is held behind
//     them, so the order is kept.
//   - One Input per server tick (Welcome.tick_rate): the newest values given
//     to sendInput (repeated until replaced), ack_tick (the Receiver's newest
//     tick: the delta baseline) and event_ack (the newest server event seq).
//   - sendEvent numbers client events 1, 2, 3, ... and keeps each until a
//     Snapshot's (or a Welcome's) event_seq covers it; after a resume the
//     ones above the Welcome's event_seq are sent again.
//   - Redirect: reconnect at once to its URL. A lost connection, a stall (no
//     snapshot for stallTimeoutMs) or a retryable error: resume (Hello with
//     the resume token, the newest tick held and the newest server event
//     seq received: event_ack) on the same URL first, then
//     on the cluster's other URLs in turn, with jittered backoff. A resume on
//     another node (a failover), or one that went back in ticks, drops the
//     held worlds: the first snapshot there is full.
//   - Errors that retrying cannot mend (a refused join or resume, a schema
//     mismatch, kicked, match ended, replaced, malformed messages) close the
//     room: onError gets a fatal TicksyncError.

import { Receiver } from "./delta.js";
import { DeltaError } from "./errors.js";
import { decodeServer, encodeClient, type ClientMsg, type ServerMsg, type SnapshotMsg, type WelcomeMsg } from "./envelope.js";
import { EntityViews, GameWorld } from "./gameworld.js";
import { type Codec, compileLayout, layoutFromSchema } from "./layout.js";
import { loadSchema, type Schema } from "./schema.js";
import { decodeEvent, type DecodedEvent, encodeEvent, encodeTable, type Values, type ValuesInput } from "./values.js";
import type { World } from "./world.js";

/** Error codes of the node's Error message (schema.ErrorCode; the README's table). */
export const ErrorCode = {
  BadRequest: 1,
  Unauthorized: 2,
  MatchNotFound: 3,
  MatchFull: 4,
  ResumeRefused: 5,
  Replaced: 6,
  Unavailable: 7,
  ShuttingDown: 8,
  NodeFull: 9,
  RateLimited: 12,
  Kicked: 13,
  MatchEnded: 14,
  JoinRefused: 15,
  SchemaMismatch: 16,
  EventFlood: 17,
} as const;

/** WebSocket close codes the client acts on (the README's close-code table). */
export const CloseCode = {
  Normal: 1000,
  GoingAway: 1001,
  Unsupported: 1003,
  Abnormal: 1006,
  Malformed: 1007,
  Policy: 1008,
  TooBig: 1009,
  Internal: 1011,
  SlowConsumer: 4010,
  Redirect: 4011,
} as const;

// Retrying cannot mend these: the room closes.
const fatalCodes = new Set<number>([1, 2, 3, 4, 5, 6, 13, 14, 15, 16, 17]);
const fatalCloses = new Set<number>([1003, 1007, 1008, 1009]);

/**
 * TicksyncError is what onError receives and what a failed join rejects
 * with. code: the node's Error code (ErrorCode; 0: none), closeCode: the
 * WebSocket close code (0: none), fatal: the room is closed.
 */
export class TicksyncError extends Error {
  constructor(message: string, readonly code = 0, readonly closeCode = 0, readonly fatal = false) {
    super(message);
    this.name = "TicksyncError";
  }
}

/**
 * The part of the WebSocket API the client uses: the browser's WebSocket
 * and the ws package's both fit. (Event parameters are loose so that both
 * event types are accepted.)
 */
export interface WebSocketLike {
  binaryType: string;
  readonly readyState: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  onopen: ((ev: any) => void) | null;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  onmessage: ((ev: any) => void) | null;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  onclose: ((ev: any) => void) | null;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  onerror: ((ev: any) => void) | null;
  send(data: Uint8Array): void;
  close(code?: number, reason?: string): void;
}

/** A WebSocket constructor (the browser's, or the ws package's in Node). */
export type WebSocketConstructor = new (url: string) => WebSocketLike;

/** The part of fetch the client uses to get a game's schema. */
export type FetchLike = (url: string) => Promise<{ ok: boolean; status: number; arrayBuffer(): Promise<ArrayBuffer> }>;

export interface ClientOptions {
  /** player token (JWT); empty: a guest */
  token?: string;
  /** display name (Hello.name, at most 32 bytes) */
  name?: string;
  /** default: globalThis.WebSocket (browsers, Node 22+); in Node 20 pass the ws package's */
  WebSocket?: WebSocketConstructor;
  /** default: globalThis.fetch */
  fetch?: FetchLike;
  /** a connection that brings no Welcome within this is dropped and retried, and a schema fetch gives up on a node (ms, default 5000) */
  connectTimeoutMs?: number;
  /** join and joinOrCreate retry transient failures for this long before rejecting (ms, default 30000) */
  joinTimeoutMs?: number;
  /** a seated connection that brings no snapshot for this long is dropped and resumed (ms, default 2000, at least 8 ticks; 0: off) */
  stallTimeoutMs?: number;
  /** snapshots held as delta baselines (default 64) */
  history?: number;
  /** longest backoff between reconnect attempts (ms, default 2000) */
  maxBackoffMs?: number;
  /**
   * ask the node played on for the cluster's live nodes (GET /v1/cluster
   * beside its game endpoint) after each Welcome and every 10 s while
   * playing, and resume through them after a loss (Room.nodes; default false)
   */
  discoverNodes?: boolean;
  /** while playing, send a Ping this often and measure the round trip (Room.stats.pingMs; ms, default 0: off) */
  pingIntervalMs?: number;
}

/**
 * RoomStats counts what a Room saw, for a page's status line and for
 * tests. It is updated in place; read it, do not keep it.
 */
export interface RoomStats {
  /** bytes of the server messages received, all connections */
  bytesReceived: number;
  /** snapshots applied, and of those the full ones (no baseline) */
  snapshots: number;
  fullSnapshots: number;
  /** snapshots that could not be applied: damaged, or against a baseline not held (stale ones are not counted) */
  badSnapshots: number;
  /** the newest input seq sent, and the newest the node reports applied (Snapshot.last_input_seq) */
  inputSeq: number;
  lastInputSeq: number;
  /** the time from sending the input lastInputSeq to the snapshot that reported it applied (ms) */
  inputRttMs: number;
  /** the newest Ping round trip (ms; 0: none yet, ClientOptions.pingIntervalMs) */
  pingMs: number;
  /** Welcomes received: the first seat, then each resume */
  welcomes: number;
  /** connection attempts after a loss (redirects not counted) */
  reconnects: number;
  /** seated connections dropped because no snapshot came for the stall window */
  stalls: number;
  /** redirects followed */
  redirects: number;
  /** the close code of the last connection that closed (1006: dropped without one) */
  lastClose: number;
}

export interface JoinOptions {
  /** the game's schema (loaded, or its .bfbs); default: fetched from the node (GET /games/{game}/schema) */
  schema?: Schema | Uint8Array;
  /** join: the match's game, to fetch its schema before joining (else it is fetched after the Welcome) */
  game?: string;
}

/** A server event: its seq, the tick that produced it, its union member and values. */
export interface GameEvent {
  readonly seq: number;
  readonly tick: number;
  /** the union member's name, e.g. "Trick" */
  readonly name: string;
  /** the member's table, e.g. "cards.Trick" */
  readonly table: string;
  readonly values: Values;
}

export type RoomState = "joining" | "playing" | "reconnecting" | "closed";

/** connect makes a client of the cluster whose game endpoints (ws(s)://host/ws) are urls. It opens nothing yet. */
export function connect(urls: string | readonly string[], options: ClientOptions = {}): Client {
  return new Client(urls, options);
}

/** Client joins matches; it caches the schemas it fetched. */
export class Client {
  /** the cluster's game endpoints, in the order given */
  readonly urls: readonly string[];
  private readonly schemas = new Map<string, Promise<Schema>>();

  constructor(urls: string | readonly string[], readonly options: ClientOptions = {}) {
    const list = (typeof urls === "string" ? [urls] : [...urls]).map(toWebSocketURL);
    if (list.length === 0) throw new TypeError("connect: no URL");
    for (const u of list) new URL(u); // throws for a malformed URL
    this.urls = list;
  }

  /** schema returns a game's schema, fetched once (GET /games/{game}/schema from the first node that answers). */
  schema(game: string): Promise<Schema> {
    let p = this.schemas.get(game);
    if (!p) {
      p = this.fetchSchema(game);
      this.schemas.set(game, p);
      p.catch(() => this.schemas.delete(game));
    }
    return p;
  }

  private async fetchSchema(game: string): Promise<Schema> {
    const f: FetchLike | undefined = this.options.fetch ?? (globalThis as unknown as { fetch?: FetchLike }).fetch;
    if (!f) throw new TicksyncError("no fetch: pass ClientOptions.fetch or JoinOptions.schema", 0, 0, true);
    let last = "";
    for (const u of this.urls) {
      const url = schemaURL(u, game);
      let resp: Awaited<ReturnType<FetchLike>>;
      try {
        resp = await withTimeout(f(url), this.options.connectTimeoutMs ?? 5000, `GET ${url}`);
      } catch (e) {
        last = `GET ${url}: ${String(e)}`;
        continue;
      }
      if (resp.status === 404) throw new TicksyncError(`game ${game}: the node has no such game with a schema (GET ${url}: 404)`, 0, 0, true);
      if (!resp.ok) {
        last = `GET ${url}: HTTP ${resp.status}`;
        continue;
      }
      return loadSchema(new Uint8Array(await resp.arrayBuffer()));
    }
    throw new TicksyncError(`schema of ${game}: ${last}`, 0, 0, true);
  }

  /** joinOrCreate seats the player in a match of game (matchmaking), with the game's join payload. */
  async joinOrCreate(game: string, joinPayload?: ValuesInput, options: JoinOptions = {}): Promise<Room> {
    if (!game) throw new TypeError("joinOrCreate: no game");
    const schema = options.schema ? asSchema(options.schema) : await this.schema(game);
    const room = new Room(this, { game, matchId: "", schema, joinPayload });
    await room.started;
    return room;
  }

  /** join seats the player in the match matchId. */
  async join(matchId: string, joinPayload?: ValuesInput, options: JoinOptions = {}): Promise<Room> {
    if (!matchId) throw new TypeError("join: no match id");
    let schema: Schema | undefined;
    if (options.schema) schema = asSchema(options.schema);
    else if (options.game) schema = await this.schema(options.game);
    if (joinPayload && !schema) throw new TypeError("join with a payload needs JoinOptions.game or JoinOptions.schema");
    const room = new Room(this, { game: options.game ?? schema?.name ?? "", matchId, schema, joinPayload });
    await room.started;
    return room;
  }
}

function asSchema(s: Schema | Uint8Array): Schema {
  return s instanceof Uint8Array ? loadSchema(s) : s;
}

const baseBackoffMs = 250;
const maxRedirects = 5;
const nodesRefreshMs = 10_000;
const nodesTimeoutMs = 3000;
const maxPendingEvents = 1024;
const maxEventBytes = 4096; // schema.MaxEventDataLen

/** How many server events a Room holds while no onEvent listener is registered (the newest are kept). */
export const MaxHeldEvents = 256;

interface RoomInit {
  game: string;
  matchId: string;
  schema?: Schema;
  joinPayload?: ValuesInput;
}

/**
 * Room is one seat in one match. Listeners run on the caller's thread;
 * one that throws does not disturb the room (the exception is rethrown
 * from a timer).
 */
export class Room {
  /** settles when the room is first seated (Welcome and schema) or fails to be */
  readonly started: Promise<void>;

  private readonly opts: ClientOptions;
  private readonly WS: WebSocketConstructor;
  private known: string[];
  private url_: string;
  private st: RoomState = "joining";

  private schemaV: Schema | undefined;
  private rx: Receiver | undefined;
  private codec: Codec | undefined;
  private views: EntityViews | undefined;
  private joinBytes: Uint8Array | undefined;
  private inputData: Uint8Array = new Uint8Array(0);

  private gameV: string;
  private matchIdV: string;
  private resumeToken = "";
  private playerIdV = 0;
  private entityIdV = 0;
  private nodeIdV = "";
  private tickRateV = 30;
  private seated = false;

  private ws: WebSocketLike | null = null;
  private seq = 0; // input seq, counted across resumes
  private eventSeq = 0; // the newest client event seq given
  private pending: { seq: number; data: Uint8Array }[] = [];
  private serverEventAck = 0;
  private lastSnapshotAt = 0;

  private attempt = 0;
  private order: string[] = [];
  private orderPos = 0;
  private redirectsInARow = 0;
  private pendingRedirect = "";
  private stalled = false;
  private stalledURL = "";
  private lastError: { code: number; message: string } | undefined;

  private inputTimer: ReturnType<typeof setInterval> | undefined;
  private stallTimer: ReturnType<typeof setInterval> | undefined;
  private watchdog: ReturnType<typeof setTimeout> | undefined;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private joinTimer: ReturnType<typeof setTimeout> | undefined;
  private pingTimer: ReturnType<typeof setInterval> | undefined;
  private nodesTimer: ReturnType<typeof setInterval> | undefined;
  private nodesV: string[] = [];
  private fetchingNodes = false;
  private readonly inputSentAt = new Float64Array(256);
  private readonly statsV: RoomStats = {
    bytesReceived: 0, snapshots: 0, fullSnapshots: 0, badSnapshots: 0, inputSeq: 0, lastInputSeq: 0, inputRttMs: 0,
    pingMs: 0, welcomes: 0, reconnects: 0, stalls: 0, redirects: 0, lastClose: 0,
  };
  private settle: { resolve: () => void; reject: (e: Error) => void } | undefined;

  private readonly stateCbs: ((world: GameWorld, tick: number) => void)[] = [];
  private readonly eventCbs: ((event: GameEvent) => void)[] = [];
  private readonly errorCbs: ((err: TicksyncError) => void)[] = [];
  // What arrived with no listener for it, for the first one registered.
  private heldEvents: GameEvent[] = [];
  private heldState: { world: GameWorld; tick: number } | undefined;
  private flushQueued = false;

  /** @internal Rooms are made by Client.join and Client.joinOrCreate. */
  constructor(private readonly client: Client, init: RoomInit) {
    this.opts = client.options;
    const WS = this.opts.WebSocket ?? (globalThis as unknown as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (!WS) throw new TypeError("no WebSocket: pass ClientOptions.WebSocket (in Node 20, the ws package's)");
    this.WS = WS;
    this.known = [...client.urls];
    this.url_ = this.known[0]!;
    this.gameV = init.game;
    this.matchIdV = init.matchId;
    if (init.schema) this.setSchema(init.schema);
    if (init.joinPayload) {
      const s = this.schemaV!;
      if (!s.join) throw new TypeError(`${s.name} takes no join payload`);
      this.joinBytes = encodeTable(s.join, init.joinPayload);
    }
    this.started = new Promise<void>((resolve, reject) => {
      this.settle = { resolve, reject };
    });
    this.started.catch(() => {}); // a caller that never awaits it is not an unhandled rejection
    this.joinTimer = setTimeout(() => {
      this.fail(new TicksyncError(`join: not seated within ${this.joinTimeoutMs()} ms`, ErrorCode.Unavailable, 0, true));
    }, this.joinTimeoutMs());
    this.open(this.url_);
  }

  /** The room's state: joining (before the first Welcome), playing, reconnecting (resuming), closed. */
  get state(): RoomState { return this.st; }
  /** The game's schema. */
  get schema(): Schema { return this.schemaV!; }
  get game(): string { return this.gameV; }
  get matchId(): string { return this.matchIdV; }
  /** The player's id in the match (Welcome.player_id). */
  get playerId(): number { return this.playerIdV; }
  /** The player's own entity, if the game gave it one (0: none). */
  get entityId(): number { return this.entityIdV; }
  /** The node the room is connected to (Welcome.node_id). */
  get nodeId(): string { return this.nodeIdV; }
  /** Ticks per second. */
  get tickRate(): number { return this.tickRateV; }
  /** The newest tick applied (the delta baseline acknowledged). */
  get tick(): number { return this.rx?.newest ?? 0; }
  /** The game endpoint of the current connection (or of the next attempt while reconnecting). */
  get url(): string { return this.url_; }
  /**
   * The client URLs of the cluster's live nodes, as the node played on last
   * listed them (ClientOptions.discoverNodes; empty until then). A failed
   * fetch or an empty list keeps the list held.
   */
  get nodes(): readonly string[] { return this.nodesV; }
  /** What the room saw so far (RoomStats), updated in place. */
  get stats(): Readonly<RoomStats> { return this.statsV; }

  /**
   * onState calls cb with each new world (ticks ascending). If worlds
   * arrived while no onState listener was registered, the newest of them
   * is handed to the listeners registered then, in a microtask (not during
   * this call). It returns a function that removes cb.
   */
  onState(cb: (world: GameWorld, tick: number) => void): () => void {
    const off = add(this.stateCbs, cb);
    if (this.heldState) this.queueFlush();
    return off;
  }

  /**
   * onEvent calls cb with each server event, once, in seq order. Events
   * that arrived while no onEvent listener was registered (the newest
   * MaxHeldEvents, 256) are handed to the listeners registered then, in a
   * microtask (not during this call), before any later event; a listener
   * registered after that does not get them again. It returns a function
   * that removes cb.
   */
  onEvent(cb: (event: GameEvent) => void): () => void {
    const off = add(this.eventCbs, cb);
    if (this.heldEvents.length > 0) this.queueFlush();
    return off;
  }

  /**
   * onError calls cb with what went wrong: fatal errors (the room is
   * closed) and passing ones (a connection lost and being resumed, a
   * snapshot or event that could not be read). It returns a function that
   * removes cb.
   */
  onError(cb: (err: TicksyncError) => void): () => void { return add(this.errorCbs, cb); }

  /**
   * sendInput sets the input sent with every tick from the next one on
   * (until replaced), built from values with the schema's input table. It
   * throws a TypeError or RangeError for values the table does not take.
   */
  sendInput(values: ValuesInput): void {
    this.inputData = encodeTable(this.schema.input, values);
  }

  /**
   * sendEvent sends a client event (a member of the schema's client event
   * union, by member or table name) reliably: it returns the event's seq; the
   * event is sent again after a resume until the match has applied it. It
   * throws for an event the schema does not have, bad values, or a closed room.
   */
  sendEvent(name: string, values: ValuesInput = {}): number {
    if (this.st === "closed") throw new TicksyncError("sendEvent: the room is closed", 0, 0, true);
    const ev = this.schema.clientEvents;
    if (!ev) throw new TypeError(`${this.schema.name} takes no events from clients`);
    const data = encodeEvent(ev, name, values);
    if (data.length > maxEventBytes) throw new RangeError(`event ${name}: ${data.length} bytes: at most ${maxEventBytes}`);
    if (this.pending.length >= maxPendingEvents) throw new RangeError(`sendEvent: ${maxPendingEvents} events not yet applied by the match`);
    const seq = ++this.eventSeq;
    this.pending.push({ seq, data });
    if (this.st === "playing") this.send({ kind: "event", seq, tick: 0, data });
    return seq;
  }

  /** The client events sent and not yet applied by the match. */
  get unacknowledgedEvents(): number { return this.pending.length; }

  /** close leaves the match (Leave, then close 1000) and stops the room. Idempotent. */
  close(): void {
    if (this.st === "closed") return;
    const ws = this.ws;
    this.stop();
    if (ws && ws.readyState === 1) {
      try {
        ws.send(encodeClient({ kind: "leave" }));
        ws.close(CloseCode.Normal, "leave");
      } catch {
        // Already closing.
      }
    } else if (ws) {
      detach(ws);
    }
    this.settle?.reject(new TicksyncError("the room was closed", 0, 0, true));
    this.settle = undefined;
  }

  // ---- connection ----------------------------------------------------------

  private isClosed(): boolean { return this.st === "closed"; }

  private joinTimeoutMs(): number { return this.opts.joinTimeoutMs ?? 30_000; }

  private setSchema(s: Schema): void {
    this.codec = compileLayout(layoutFromSchema(s));
    this.schemaV = s;
    this.inputData = encodeTable(s.input, {});
    this.views = new EntityViews(s);
  }

  private open(url: string): void {
    clearTimeout(this.retryTimer);
    this.url_ = url;
    let ws: WebSocketLike;
    try {
      ws = new this.WS(url);
    } catch (e) {
      this.report(new TicksyncError(`cannot connect to ${url}: ${String(e)}`));
      this.retry();
      return;
    }
    ws.binaryType = "arraybuffer";
    this.ws = ws;
    clearTimeout(this.watchdog);
    // A node that stalled gets only the stall window to seat us again: a
    // stopped process accepts connections and never answers.
    let wait = this.opts.connectTimeoutMs ?? 5000;
    if (this.stalledURL !== "" && url === this.stalledURL && this.stallMs() > 0) wait = Math.min(wait, this.stallMs());
    this.watchdog = setTimeout(() => {
      if (this.ws === ws) this.drop(ws, `no Welcome from ${url} within ${wait} ms`);
    }, wait);
    ws.onopen = () => {
      if (this.ws !== ws) return;
      const resume = this.resumeToken !== "";
      ws.send(encodeClient({
        kind: "hello",
        token: this.opts.token,
        matchId: this.matchIdV,
        resumeToken: this.resumeToken,
        lastTick: resume ? (this.rx?.newest ?? 0) : 0,
        name: this.opts.name,
        game: this.gameV,
        join: resume ? undefined : this.joinBytes,
        schemaHash: this.schemaV?.hash ?? "",
        // The newest server event held: a node that adopted the match
        // after a failover numbers the seat's events after it.
        eventAck: resume ? this.serverEventAck : 0,
      }));
    };
    ws.onmessage = (ev: { data: unknown }) => {
      if (this.ws !== ws) return;
      const d = ev.data;
      let buf: Uint8Array;
      if (d instanceof ArrayBuffer) buf = new Uint8Array(d);
      else if (ArrayBuffer.isView(d)) buf = new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
      else {
        this.report(new TicksyncError("a text frame from the node"));
        return;
      }
      this.statsV.bytesReceived += buf.byteLength;
      let msg: ServerMsg;
      try {
        msg = decodeServer(buf);
      } catch (e) {
        this.report(new TicksyncError(String(e)));
        return;
      }
      this.handle(ws, msg);
    };
    ws.onclose = (ev: { code?: number; reason?: string }) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.statsV.lastClose = ev.code ?? CloseCode.Abnormal;
      this.closed(ev.code ?? CloseCode.Abnormal, ev.reason ?? "");
    };
    ws.onerror = () => {
      // onclose follows with the code.
    };
  }

  /** drop lets go of ws at once (a stopped node may never answer a close) and goes on as after a loss. */
  private drop(ws: WebSocketLike, why: string): void {
    if (this.ws !== ws) return;
    this.ws = null;
    detach(ws);
    this.statsV.lastClose = CloseCode.Abnormal;
    this.closed(CloseCode.Abnormal, why);
  }

  private send(m: ClientMsg): void {
    const ws = this.ws;
    if (ws && ws.readyState === 1) ws.send(encodeClient(m));
  }

  private handle(ws: WebSocketLike, m: ServerMsg): void {
    switch (m.kind) {
      case "welcome":
        this.welcome(ws, m);
        break;
      case "snapshot":
        this.lastSnapshotAt = Date.now();
        this.snapshot(m);
        break;
      case "redirect":
        // The node closes with 4011 next; go at once.
        this.pendingRedirect = toWebSocketURL(m.url);
        if (m.matchId) this.matchIdV = m.matchId;
        if (!this.known.includes(this.pendingRedirect)) this.known.push(this.pendingRedirect);
        this.statsV.redirects++;
        this.drop(ws, "redirected");
        break;
      case "error":
        this.lastError = { code: m.code, message: m.message };
        break;
      case "pong": {
        const sent = Number(m.clientTime) / 1000;
        if (sent > 0) this.statsV.pingMs = Math.max(0, Math.round(now() - sent));
        break;
      }
    }
  }

  private welcome(ws: WebSocketLike, w: WelcomeMsg): void {
    clearTimeout(this.watchdog);
    if (w.schemaHash === "") {
      this.fail(new TicksyncError(`match ${w.matchId} (game ${w.game}) has no game schema: this client plays only games with one`, 0, 0, true));
      return;
    }
    if (this.schemaV && w.schemaHash !== this.schemaV.hash) {
      this.fail(new TicksyncError(`schema mismatch: the match speaks ${w.game} ${w.schemaHash}, this client ${this.schemaV.name} ${this.schemaV.hash}`, ErrorCode.SchemaMismatch, 0, true));
      return;
    }
    // Keep the held worlds only when the same node resumes the same seat
    // with no rollback of ticks: after a failover the new owner restored a
    // checkpoint, and its tick N is not the world held as tick N.
    const sameSeat = this.seated && w.matchId === this.matchIdV && w.playerId === this.playerIdV;
    if (this.rx && (!sameSeat || w.nodeId !== this.nodeIdV || w.serverTick < this.rx.newest)) this.rx.reset();
    this.resumeToken = w.resumeToken;
    this.matchIdV = w.matchId;
    this.playerIdV = w.playerId;
    this.entityIdV = w.entityId;
    this.nodeIdV = w.nodeId;
    if (w.game) this.gameV = w.game;
    this.tickRateV = w.tickRate > 0 ? w.tickRate : 30;
    this.seated = true;
    this.statsV.welcomes++;
    if (this.schemaV) {
      this.play(ws, w.eventSeq);
      return;
    }
    // Joined by match id alone: fetch the game's schema now.
    this.client.schema(w.game).then((s) => {
      if (this.ws !== ws) return;
      if (s.hash !== w.schemaHash) {
        this.fail(new TicksyncError(`schema mismatch: the match speaks ${w.game} ${w.schemaHash}, the node serves ${s.hash}`, ErrorCode.SchemaMismatch, 0, true));
        return;
      }
      try {
        this.setSchema(s);
      } catch (e) {
        this.fail(new TicksyncError(`schema of ${w.game}: ${String(e)}`, 0, 0, true));
        return;
      }
      this.play(ws, w.eventSeq);
    }, (e: unknown) => this.fail(e instanceof TicksyncError ? e : new TicksyncError(String(e), 0, 0, true)));
  }

  /** play starts the seated connection: events to re-send, the input timer, the stall watch. */
  private play(ws: WebSocketLike, eventSeq: number): void {
    if (!this.rx) this.rx = new Receiver(this.codec!, { player: this.playerIdV, history: this.opts.history ?? 64 });
    this.st = "playing";
    this.attempt = 0;
    this.order = [];
    this.redirectsInARow = 0;
    this.stalled = false;
    this.stalledURL = "";
    this.lastError = undefined;
    this.ackEvents(eventSeq);
    for (const p of this.pending) this.send({ kind: "event", seq: p.seq, tick: 0, data: p.data });
    clearInterval(this.inputTimer);
    this.inputTimer = setInterval(() => this.tickInput(ws), 1000 / this.tickRateV);
    this.tickInput(ws);
    this.lastSnapshotAt = Date.now();
    clearInterval(this.stallTimer);
    const stallMs = this.stallMs();
    if (stallMs > 0) {
      this.stallTimer = setInterval(() => {
        if (this.ws === ws && this.st === "playing" && Date.now() - this.lastSnapshotAt > stallMs) {
          this.stalled = true;
          this.stalledURL = this.url_;
          this.statsV.stalls++;
          this.report(new TicksyncError(`no snapshot for ${stallMs} ms: resuming`));
          this.drop(ws, "stalled");
        }
      }, Math.min(250, stallMs / 4));
    }
    clearInterval(this.pingTimer);
    const pingMs = this.opts.pingIntervalMs ?? 0;
    if (pingMs > 0) {
      // client_time in microseconds of the page's clock; the Pong echoes it.
      this.pingTimer = setInterval(() => {
        if (this.ws === ws && this.st === "playing") this.send({ kind: "ping", clientTime: BigInt(Math.round(now() * 1000)) });
      }, pingMs);
    }
    if (this.opts.discoverNodes) {
      if (this.nodesTimer === undefined) this.nodesTimer = setInterval(() => this.refreshNodes(), nodesRefreshMs);
      this.refreshNodes();
    }
    clearTimeout(this.joinTimer);
    this.settle?.resolve();
    this.settle = undefined;
  }

  /**
   * refreshNodes asks the node played on for the cluster's live nodes, one
   * fetch at a time. A failure (a node without the endpoint, a timeout, a
   * malformed answer) or an empty list keeps the list held. The URLs given
   * to connect stay in the failover order, after the listed ones.
   */
  private refreshNodes(): void {
    if (this.fetchingNodes || this.st !== "playing") return;
    const f: FetchLike | undefined = this.opts.fetch ?? (globalThis as unknown as { fetch?: FetchLike }).fetch;
    if (!f) return;
    this.fetchingNodes = true;
    const url = clusterURL(this.url_);
    withTimeout(f(url), nodesTimeoutMs, `GET ${url}`)
      .then((resp) => {
        if (!resp.ok) throw new Error(`GET ${url}: HTTP ${resp.status}`);
        return resp.arrayBuffer();
      })
      .then((body) => {
        const nodes = parseNodes(new TextDecoder().decode(body));
        if (nodes.length === 0 || this.st === "closed") return;
        this.nodesV = nodes;
        const known = [...nodes];
        for (const u of this.client.urls) if (!known.includes(u)) known.push(u);
        this.known = known;
      })
      .catch(() => {})
      .finally(() => {
        this.fetchingNodes = false;
      });
  }

  private stallMs(): number {
    const ms = this.opts.stallTimeoutMs ?? 2000;
    return ms <= 0 ? 0 : Math.max(ms, 8000 / this.tickRateV);
  }

  private ackEvents(seq: number): void {
    if (this.pending.length > 0 && this.pending[0]!.seq <= seq) this.pending = this.pending.filter((p) => p.seq > seq);
  }

  private tickInput(ws: WebSocketLike): void {
    if (this.ws !== ws || ws.readyState !== 1) return;
    this.seq = (this.seq + 1) >>> 0;
    this.statsV.inputSeq = this.seq;
    this.inputSentAt[this.seq % this.inputSentAt.length] = now();
    const ack = this.rx?.newest ?? 0;
    this.send({ kind: "input", seq: this.seq, targetTick: ack + 1, ackTick: ack, data: this.inputData, eventAck: this.serverEventAck });
  }

  private snapshot(m: SnapshotMsg): void {
    const s = this.schemaV;
    if (!s || !this.rx || this.st !== "playing") return; // schema still loading: the next snapshots will do
    this.ackEvents(m.eventSeq);
    const st = this.statsV;
    if (m.lastInputSeq > st.lastInputSeq && m.lastInputSeq <= this.seq) {
      const sent = this.inputSentAt[m.lastInputSeq % this.inputSentAt.length]!;
      if (sent > 0) st.inputRttMs = Math.max(0, Math.round(now() - sent));
      st.lastInputSeq = m.lastInputSeq;
    }
    for (const e of m.events) {
      if (e.seq <= this.serverEventAck) continue; // seen (a resumed or failed-over node sends again)
      this.serverEventAck = e.seq;
      if (!s.serverEvents) {
        this.report(new TicksyncError(`server event ${e.seq}: ${s.name} declares no server events`));
        continue;
      }
      let d: DecodedEvent;
      try {
        d = decodeEvent(s.serverEvents, e.data);
      } catch (err) {
        this.report(new TicksyncError(`server event ${e.seq}: ${String(err)}`));
        continue;
      }
      const ev: GameEvent = { seq: e.seq, tick: e.tick, name: d.name, table: d.table, values: d.values };
      if (this.eventCbs.length === 0 || this.flushQueued) {
        this.heldEvents.push(ev);
        if (this.heldEvents.length > MaxHeldEvents) this.heldEvents.splice(0, this.heldEvents.length - MaxHeldEvents);
        continue;
      }
      for (const cb of [...this.eventCbs]) call(() => cb(ev));
      if (this.isClosed()) return; // a listener closed the room
    }
    let world: World;
    try {
      world = this.rx.apply(m.tick, m.baselineTick, m.state);
    } catch (e) {
      if (!(e instanceof DeltaError)) throw e;
      // stale: an old snapshot; nobaseline: keep acknowledging the newest
      // (the node falls back to a full snapshot); bad: report.
      if (e.code !== "stale") st.badSnapshots++;
      if (e.code === "bad") this.report(new TicksyncError(`snapshot ${m.tick}: ${e.message}`));
      return;
    }
    st.snapshots++;
    if (m.baselineTick === 0) st.fullSnapshots++;
    const gw = new GameWorld(world, this.views!);
    if (this.stateCbs.length === 0 || this.flushQueued) {
      this.heldState = { world: gw, tick: m.tick };
      return;
    }
    this.heldState = undefined;
    for (const cb of [...this.stateCbs]) call(() => cb(gw, m.tick));
  }

  /** queueFlush hands what was held to the listeners registered, in a microtask: the registering call returns first. */
  private queueFlush(): void {
    if (this.flushQueued) return;
    this.flushQueued = true;
    queueMicrotask(() => this.flush());
  }

  /**
   * flush hands the held events (seq order) to the onEvent listeners, then
   * the held world to the onState listeners; what has no listener yet stays
   * held. A listener that closes the room stops it, as in snapshot.
   */
  private flush(): void {
    this.flushQueued = false;
    const wasClosed = this.isClosed();
    if (this.heldEvents.length > 0 && this.eventCbs.length > 0) {
      const evs = this.heldEvents;
      this.heldEvents = [];
      for (let i = 0; i < evs.length; i++) {
        const ev = evs[i]!;
        for (const cb of [...this.eventCbs]) call(() => cb(ev));
        if (!wasClosed && this.isClosed()) return;
        if (this.eventCbs.length === 0) {
          // Every listener removed itself: the rest wait for the next one.
          this.heldEvents = evs.slice(i + 1).concat(this.heldEvents);
          break;
        }
      }
    }
    if (this.heldState && this.stateCbs.length > 0) {
      const { world, tick } = this.heldState;
      this.heldState = undefined;
      for (const cb of [...this.stateCbs]) call(() => cb(world, tick));
    }
  }

  /** closed decides what a closed socket means (the README's close-code table). */
  private closed(code: number, reason: string): void {
    clearInterval(this.inputTimer);
    clearInterval(this.stallTimer);
    clearInterval(this.pingTimer);
    clearTimeout(this.watchdog);
    if (this.st === "closed") return;
    if (this.st === "playing") this.st = "reconnecting";
    if (this.pendingRedirect) {
      const url = this.pendingRedirect;
      this.pendingRedirect = "";
      if (++this.redirectsInARow <= maxRedirects) {
        this.open(url);
        return;
      }
      this.redirectsInARow = 0;
      this.report(new TicksyncError(`too many redirects (last to ${url})`));
      this.retry();
      return;
    }
    // An Error comes just before its 4000+N close; if the close frame was
    // lost (1006), the message still tells what happened.
    const err = this.lastError;
    this.lastError = undefined;
    let ecode = err?.code ?? 0;
    if (ecode === 0 && code > 4000 && code < 4100 && code !== CloseCode.SlowConsumer && code !== CloseCode.Redirect) ecode = code - 4000;
    const text = err?.message || reason || `connection closed (${code})`;
    if (fatalCodes.has(ecode) || (ecode === 0 && fatalCloses.has(code))) {
      this.fail(new TicksyncError(ecode ? `${text} (error ${ecode})` : `${text} (close ${code})`, ecode, code, true));
      return;
    }
    this.report(new TicksyncError(`${text}: reconnecting`, ecode, code, false));
    // A redirect that ends in a failed connection is no redirect loop:
    // while the cluster has not yet moved a dead node's matches, the live
    // nodes send the client to the dead one.
    this.redirectsInARow = 0;
    this.retry();
  }

  /** retry schedules the next connection: where we were first, then the cluster's other URLs in turn. */
  private retry(): void {
    if (this.st === "closed") return;
    if (this.order.length === 0) {
      this.order = failoverOrder(this.url_, this.known);
      // After a stall the node that stalled goes last.
      if (this.stalled && this.order.length > 1) this.order.push(this.order.shift()!);
      this.orderPos = 0;
    }
    const url = this.order[this.orderPos++ % this.order.length]!;
    this.statsV.reconnects++;
    const max = this.opts.maxBackoffMs ?? 2000;
    const ms = Math.min(max, baseBackoffMs * 2 ** Math.min(this.attempt++, 5)) * (0.5 + Math.random() / 2);
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.open(url), ms);
  }

  private report(e: TicksyncError): void {
    for (const cb of [...this.errorCbs]) call(() => cb(e));
  }

  /** fail closes the room for good and tells the listeners (and a pending join) why. */
  private fail(e: TicksyncError): void {
    if (this.st === "closed") return;
    const ws = this.ws;
    this.stop();
    if (ws) {
      detach(ws);
      try {
        ws.close(CloseCode.Normal, "closed");
      } catch {
        // Already closing.
      }
    }
    if (this.settle) {
      this.settle.reject(e);
      this.settle = undefined;
    }
    this.report(e);
  }

  private stop(): void {
    this.st = "closed";
    this.ws = null;
    clearInterval(this.inputTimer);
    clearInterval(this.stallTimer);
    clearTimeout(this.watchdog);
    clearTimeout(this.retryTimer);
    clearTimeout(this.joinTimer);
    clearInterval(this.pingTimer);
    clearInterval(this.nodesTimer);
  }
}

/** now is a monotonic clock in ms where there is one. */
function now(): number {
  const p = (globalThis as unknown as { performance?: { now(): number } }).performance;
  return p ? p.now() : Date.now();
}

/** withTimeout rejects when p has not settled within ms (a node that accepts and never answers). */
function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

function detach(ws: WebSocketLike): void {
  ws.onopen = ws.onmessage = ws.onclose = null;
  ws.onerror = () => {};
  try {
    ws.close();
  } catch {
    // Already closing.
  }
}

function add<T>(list: T[], cb: T): () => void {
  list.push(cb);
  return () => {
    const i = list.indexOf(cb);
    if (i >= 0) list.splice(i, 1);
  };
}

/** call runs a listener; an exception is rethrown from a timer, so the room goes on. */
function call(f: () => void): void {
  try {
    f();
  } catch (e) {
    setTimeout(() => {
      throw e;
    }, 0);
  }
}

/**
 * failoverOrder is the order in which a dropped connection tries to get
 * back: where it was first (a blip, or a restart of that node), then the
 * other known URLs starting after it (so that the clients of one node
 * spread out). Any node redirects the client to its match's owner, and the
 * resume token keeps its seat.
 */
export function failoverOrder(current: string, known: readonly string[]): string[] {
  const out = [current];
  const at = known.indexOf(current);
  const rotated = at < 0 ? known : [...known.slice(at + 1), ...known.slice(0, at)];
  for (const u of rotated) if (!out.includes(u)) out.push(u);
  return out;
}

/** toWebSocketURL accepts a ws(s) URL or an http(s) one and returns ws(s). */
export function toWebSocketURL(u: string): string {
  if (u.startsWith("https://")) return "wss://" + u.slice(8);
  if (u.startsWith("http://")) return "ws://" + u.slice(7);
  return u;
}

/**
 * schemaURL is where the node beside the game endpoint wsURL serves a
 * game's compiled schema: ws://h:p/ws → http://h:p/games/{game}/schema
 * (the last path segment replaced, so a node behind a path prefix is asked
 * under the same prefix).
 */
export function schemaURL(wsURL: string, game: string): string {
  const u = new URL(wsURL);
  if (u.protocol === "ws:") u.protocol = "http:";
  else if (u.protocol === "wss:") u.protocol = "https:";
  const out = new URL(`games/${encodeURIComponent(game)}/schema`, u);
  out.search = "";
  out.hash = "";
  return out.toString();
}

/**
 * clusterURL is where the node beside the game endpoint wsURL lists the
 * cluster's live nodes: ws://h:p/ws → http://h:p/v1/cluster (the last
 * path segment replaced, as schemaURL).
 */
export function clusterURL(wsURL: string): string {
  const u = new URL(wsURL);
  if (u.protocol === "ws:") u.protocol = "http:";
  else if (u.protocol === "wss:") u.protocol = "https:";
  const out = new URL("v1/cluster", u);
  out.search = "";
  out.hash = "";
  return out.toString();
}

/**
 * parseNodes reads a GET /v1/cluster answer, {"nodes":[{"id":"n1","url":"ws://…/ws"},…]},
 * into the nodes' game endpoints (http(s) URLs turned into ws(s)), in its
 * order, without duplicates. Anything else (not JSON, no list, an entry
 * without a ws(s) or http(s) URL) gives an empty list.
 */
export function parseNodes(text: string): string[] {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return [];
  }
  const nodes = (v as { nodes?: unknown } | null)?.nodes;
  if (!Array.isArray(nodes)) return [];
  const out: string[] = [];
  for (const n of nodes) {
    const raw = (n as { url?: unknown } | null)?.url;
    if (typeof raw !== "string") return [];
    const u = toWebSocketURL(raw);
    try {
      const p = new URL(u).protocol;
      if (p !== "ws:" && p !== "wss:") return [];
    } catch {
      return [];
    }
    if (!out.includes(u)) out.push(u);
  }
  return out;
}
