// Entry point of the arena page: plays the arena on the node that served
// the page (ws(s)://<host>/ws) through @ticksync/client, with the keyboard
// and pointer, and draws it on a canvas with a small HUD (tick, ping,
// bytes/s).
//
// Query parameters: name (display name), match (join this match id),
// token (auth token, when the node requires one), stall (the stall timeout
// in ms: a connection without a snapshot that long is dropped and resumed;
// 0 turns it off; under 1000 counts as 1000; default 2000).
//
// window.__ticksync exposes the session's DebugState (tick, entity count,
// own entity, counters, ...) for tests and the console.

import { type DebugState, Session, stallOption } from "./arena";
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
  const session = new Session({
    url: `${scheme}://${location.host}/ws`,
    name: params.get("name") ?? undefined,
    matchId: params.get("match") ?? undefined,
    token: params.get("token") ?? undefined,
    stallTimeoutMs: stallOption(params.get("stall")),
    controls: () => controls.sample(),
  });
  window.__ticksync = session.debug;

  const renderer = new Renderer(canvas);
  const fit = () => renderer.resize(window.innerWidth, window.innerHeight, window.devicePixelRatio || 1);
  window.addEventListener("resize", fit);
  fit();

  // The HUD and the debug state follow the session at 4 Hz; rendering
  // runs on animation frames. A timer, not the frame loop, drives the
  // HUD: a hidden tab gets no frames but keeps its state current.
  setInterval(() => {
    session.sync();
    updateHud(hud, banner, session.debug);
  }, 250);
  const frame = (now: number) => {
    controls.aimFrom = renderer.draw(session.view(), now);
    requestAnimationFrame(frame);
  };
  requestAnimationFrame(frame);
  window.addEventListener("pagehide", () => session.stop());
  session.start();
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
