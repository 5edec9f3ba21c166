// play.mjs URL N: N players play one game of cards through @ticksync/client
// (the page's bundle, web/ticksync-client.js) until the match ends, and
// print one JSON line per player: what it saw. main_test.go runs it.
import { connect } from "../web/ticksync-client.js";

const [url, n] = [process.argv[2], Number(process.argv[3])];
// Node 22 and browsers have a WebSocket; Node 20 takes the ws package of clients/ts.
// A browser hands the page one message per task, so the room's listeners,
// added once joinOrCreate resolves on the Welcome, hear the first snapshot's
// events; ws would emit every message of one read at once, before them:
// allowSynchronousEvents false makes it deliver them as a browser does.
const WebSocket = globalThis.WebSocket ?? await (async () => {
  const WS = (await import("../../../clients/ts/node_modules/ws/wrapper.mjs")).default;
  return class extends WS {
    constructor(url, protocols) { super(url, protocols, { allowSynchronousEvents: false }); }
  };
})();

async function player(i) {
  const name = ["ann", "bob", "cat", "dan"][i];
  const seen = { name, events: [], winner: -1, chat: [], foreign: 0, maxHand: 0, error: null, done: false };
  const room = await connect(url, { name, WebSocket }).joinOrCreate("cards", { name, color: 0x3366ff, mode: "Quick" });
  seen.player = room.playerId;
  let acted = "";
  room.onEvent((e) => {
    seen.events.push(e.name);
    if (e.name === "GameOver") seen.winner = e.values.winner;
    if (e.name === "Chat") seen.chat.push(e.values.text);
  });
  room.onError((e) => { seen.error = { code: e.code, message: e.message, fatal: e.fatal }; if (e.fatal) seen.done = true; });
  room.onState((w) => {
    const [t] = w.ofKind("Table");
    const cards = w.ofKind("Card");
    const mine = cards.filter((c) => c.owner === room.playerId);
    seen.maxHand = Math.max(seen.maxHand, mine.length);
    for (const c of cards) if (!c.get("face_up") && c.owner !== room.playerId) seen.foreign++;
    const me = w.ofKind("Seat").find((s) => s.owner === room.playerId);
    if (!t || !me || t.get("phase") !== 1 || t.get("turn") !== me.get("seat")) return;
    const top = cards.filter((c) => c.get("face_up")).sort((a, b) => b.get("pos.y") - a.get("pos.y"))[0];
    const key = `${t.get("deck")}/${top.id}/${mine.length}`; // changes with every action
    if (key === acted) return;
    acted = key;
    const play = mine.find((c) => c.get("suit") === top.get("suit") || c.get("rank") === top.get("rank"));
    if (play) room.sendEvent("PlayCard", { card: play.id });
    else room.sendEvent("Draw");
  });
  room.sendInput({ pointer: { x: 0.25 * i, y: 0, z: -0.5 } });
  return { seen, room };
}

const joined = [];
for (let i = 0; i < n; i++) joined.push(await player(i));
joined[0].room.sendEvent("Chat", { text: "good luck" });
const players = joined.map((j) => j.seen);
const t0 = Date.now();
while (!players.every((p) => p.done) && Date.now() - t0 < 60000) await new Promise((r) => setTimeout(r, 100));
for (const p of players) console.log(JSON.stringify(p));
process.exit(0);
