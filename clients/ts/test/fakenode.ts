// A scripted stand-in for a ticksync node, for the client's tests: an HTTP
// server on loopback that serves game schemas (GET /games/{name}/schema)
// and accepts WebSockets on /ws, speaking the envelope with this package's
// own encoder and decoder. Each test drives the connections (Conn) itself.

import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import WebSocket, { WebSocketServer } from "ws";
import { type ClientMsg, decodeClient, encodeServer, type ServerMsg } from "../src/envelope.js";
import type { WebSocketConstructor } from "../src/client.js";

/** The ws package's client, as the Room's WebSocket. */
export const NodeWebSocket = WebSocket as unknown as WebSocketConstructor;

type Msg<K extends ClientMsg["kind"]> = Extract<ClientMsg, { kind: K }>;

/** Conn is one client connection to the fake node. */
export class Conn {
  private readonly queue: ClientMsg[] = [];
  private waiters: (() => void)[] = [];
  /** every message received, in order */
  readonly all: ClientMsg[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;

  constructor(readonly ws: WebSocket) {
    ws.on("message", (data: WebSocket.RawData, isBinary: boolean) => {
      if (!isBinary) return;
      const m = decodeClient(new Uint8Array(data as Buffer));
      this.queue.push(m);
      this.all.push(m);
      const w = this.waiters;
      this.waiters = [];
      w.forEach((f) => f());
    });
    this.closed = new Promise((resolve) => ws.on("close", (code: number, reason: Buffer) => resolve({ code, reason: reason.toString() })));
  }

  /** next returns the first message of kind not yet taken (messages of other kinds stay queued). */
  async next<K extends ClientMsg["kind"]>(kind: K, timeoutMs = 5000): Promise<Msg<K>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.queue.findIndex((m) => m.kind === kind);
      if (i >= 0) return this.queue.splice(i, 1)[0] as Msg<K>;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no ${kind} message within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** until takes messages of kind until one satisfies pred, and returns it. */
  async until<K extends ClientMsg["kind"]>(kind: K, pred: (m: Msg<K>) => boolean, timeoutMs = 5000): Promise<Msg<K>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = await this.next(kind, Math.max(1, deadline - Date.now()));
      if (pred(m)) return m;
    }
  }

  send(m: ServerMsg): void {
    this.ws.send(encodeServer(m));
  }

  /** error sends Error{code, message} and closes with 4000+code, as a node does. */
  error(code: number, message: string): void {
    this.send({ kind: "error", code, message });
    this.ws.close(4000 + code, message);
  }
}

/** FakeNode serves schemas and WebSockets on 127.0.0.1. */
export class FakeNode {
  readonly conns: Conn[] = [];
  private waiters: (() => void)[] = [];
  private server!: Server;
  private wss!: WebSocketServer;
  url = "";
  /** the answer to GET /v1/cluster (404 while undefined) */
  cluster: string | undefined;
  /** GET /v1/cluster requests seen */
  clusterGets = 0;

  constructor(readonly schemas: Record<string, Uint8Array>) {}

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      if (req.url === "/v1/cluster") {
        this.clusterGets++;
        if (this.cluster === undefined) res.writeHead(404).end("not found");
        else res.writeHead(200, { "content-type": "application/json" }).end(this.cluster);
        return;
      }
      const m = /^\/games\/([^/]+)\/schema$/.exec(req.url ?? "");
      const bfbs = m ? this.schemas[decodeURIComponent(m[1]!)] : undefined;
      if (!bfbs) {
        res.writeHead(404).end("not found");
        return;
      }
      res.writeHead(200, { "content-type": "application/octet-stream" }).end(Buffer.from(bfbs));
    });
    this.wss = new WebSocketServer({ server: this.server, path: "/ws" });
    this.wss.on("connection", (ws: WebSocket) => {
      this.conns.push(new Conn(ws));
      const w = this.waiters;
      this.waiters = [];
      w.forEach((f) => f());
    });
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    this.url = `ws://127.0.0.1:${(this.server.address() as AddressInfo).port}/ws`;
    return this;
  }

  /** conn returns the n-th connection (0-based), waiting for it. */
  async conn(n: number, timeoutMs = 5000): Promise<Conn> {
    const deadline = Date.now() + timeoutMs;
    while (this.conns.length <= n) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no connection ${n} within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.conns[n]!;
  }

  async stop(): Promise<void> {
    for (const c of this.wss.clients) c.terminate();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** waitFor polls cond every 5 ms until it holds, failing after timeoutMs. */
export async function waitFor(what: string, cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
