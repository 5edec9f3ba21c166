// Entry point of the arena demo page: connects to the node that served the
// page (ws(s)://<host>/ws), plays with the keyboard and pointer, draws the
// arena on a canvas and a small HUD (tick, ping, bytes/s).
//
// Query parameters: name (display name), match (join this match id),
// token (auth token, when the node requires one), stall (the stall timeout
// in ms: a connection without a snapshot that long is dropped and resumed;
// 0 turns it off; default 2000).
//
// window.__ticksync exposes the client's DebugState (tick, entity count, own
// entity, ...) for tests and the console.

import { ArenaClient, type DebugState } from "./client";
import { KeyboardControls } from "./controls";
import { Renderer } from "./render";

declare global {
  interface Window {
    __ticksync?: DebugState;
  }
}

function main(): void {
  const canvas = document.getElementById("arena") as HTMLCanvasElement;
  const hud = document.getElementById("hud") as HTMLElement;
  const banner = document.getElementById("banner") as HTMLElement;
  const params = new URLSearchParams(location.search);
  const scheme = location.protocol === "https:" ? "wss" : "ws";

  const controls = new KeyboardControls(window, canvas);
  const stall = params.get("stall");
  const client = new ArenaClient({
    url: `${scheme}://${location.host}/ws`,
    name: params.get("name") ?? undefined,
    matchId: params.get("match") ?? undefined,
    token: params.get("token") ?? undefined,
    stallTimeoutMs: stall !== null && stall !== "" && Number.isFinite(Number(stall)) ? Number(stall) : undefined,
    controls: () => controls.sample(),
  });
  window.__ticksync = client.debug;

  const renderer = new Renderer(canvas);
  const fit = () => renderer.resize(window.innerWidth, window.innerHeight, window.devicePixelRatio || 1);
  window.addEventListener("resize", fit);
  fit();

  let hudAt = 0;
  const frame = (now: number) => {
    controls.aimFrom = renderer.draw(client.view(), now);
    if (now - hudAt > 250) {
      hudAt = now;
      updateHud(hud, banner, client.debug);
    }
    requestAnimationFrame(frame);
  };
  requestAnimationFrame(frame);
  window.addEventListener("pagehide", () => client.stop());
  client.start();
}

function updateHud(hud: HTMLElement, banner: HTMLElement, d: DebugState): void {
  const kb = (d.bytesPerSec / 1024).toFixed(1);
  const ping = d.pingMs > 0 ? d.pingMs : d.inputRttMs;
  const lines = [
    `tick ${d.tick}`,
    `ping ${ping} ms`,
    `${kb} KiB/s`,
    `${d.entities} entities`,
    d.state === "playing" ? `player ${d.playerId}${d.nodeId ? " @ " + d.nodeId : ""}` : d.state,
  ];
  hud.textContent = lines.join("  ·  ");
  banner.textContent = d.lastError;
  banner.hidden = d.lastError === "";
}

main();
