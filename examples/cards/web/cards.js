// The cards page: a client of the cards game written with @ticksync/client
// (clients/ts), whose bundle sits beside it as ticksync-client.js
// (`go generate` in examples/cards builds it). The client fetches the
// game's schema from the node, joins with the Join table's values, hands
// every new world to onState and every server event to onEvent, sends the
// pointer as the input and the actions as events.

const $ = (id) => document.getElementById(id);
const SUITS = ["♣", "♦", "♥", "♠"];
const RANKS = ["", "A", "2", "3", "4", "5", "6", "7", "8", "9", "10", "J", "Q", "K"];
const CARD_BASE = 100; // a card's entity id is 100 + suit × 13 + rank − 1
const PHASES = ["waiting for players", "playing", "game over"];

function log(text) {
  const p = document.createElement("div");
  p.textContent = text;
  $("log").append(p);
  $("log").scrollTop = $("log").scrollHeight;
}

function cardEl(suit, rank, tag = "span") {
  const el = document.createElement(tag);
  el.className = "card" + (suit === 1 || suit === 2 ? " red" : "");
  el.textContent = RANKS[rank] + SUITS[suit];
  return el;
}

const codeName = (c) => RANKS[(c % 13) + 1] + SUITS[Math.floor(c / 13)];

async function main() {
  let lib;
  try {
    lib = await import("./ticksync-client.js");
  } catch (e) {
    $("status").textContent = "This page needs the @ticksync/client bundle (ticksync-client.js) beside it: " + e;
    return;
  }
  $("join").onsubmit = async (ev) => {
    ev.preventDefault();
    const name = $("name").value.trim();
    const color = parseInt($("color").value.slice(1), 16);
    const mode = Number($("mode").value);
    $("join").hidden = true;
    $("status").textContent = "connecting…";
    try {
      const client = lib.connect(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`, { name });
      const room = await client.joinOrCreate("cards", { name, color, mode }); // the Join table
      room.onError((err) => { $("status").textContent = err.message; });
      play(room);
    } catch (e) {
      $("status").textContent = "cannot join: " + (e.message || e);
      $("join").hidden = false;
    }
  };
  // ?name=ann&mode=1 sits down at once.
  const q = new URLSearchParams(location.search);
  if (q.get("name")) {
    $("name").value = q.get("name");
    if (q.get("mode")) $("mode").value = q.get("mode");
    $("join").requestSubmit();
  }
}

function play(room) {
  $("status").textContent = "";
  $("table").hidden = $("chat").hidden = false;
  let seats = new Map(); // seat number → name

  room.onState((world) => {
    const [table] = world.ofKind("Table");
    if (!table) return;
    const turn = table.get("turn");
    $("seats").replaceChildren(...world.ofKind("Seat").map((s) => {
      seats.set(s.get("seat"), s.get("name"));
      const el = document.createElement("div");
      el.className = "seat" + (s.get("seat") === turn ? " turn" : "");
      el.style.color = "#" + s.get("color").toString(16).padStart(6, "0");
      el.textContent = `seat ${s.get("seat")}: ${s.get("name")}, ${s.get("hand_size")} cards, score ${s.get("score")}` +
        (s.owner === room.playerId ? ` (you; ${s.get("playable")} playable)` : "");
      return el;
    }));
    const cards = world.ofKind("Card");
    const pile = cards.filter((c) => c.get("face_up")).sort((a, b) => a.get("pos.y") - b.get("pos.y"));
    const top = pile[pile.length - 1];
    $("pile").replaceChildren(top ? cardEl(top.get("suit"), top.get("rank")) : "");
    $("deck").textContent = table.get("deck");
    $("clock").textContent = PHASES[table.get("phase")] +
      (table.get("start_in") ? `, dealing in ${table.get("start_in")} s` : "") +
      (table.get("turn_left") ? `, ${table.get("turn_left")} s left in the turn` : "");
    const mine = cards.filter((c) => c.owner === room.playerId).sort((a, b) => a.get("pos.x") + a.get("pos.z") - b.get("pos.x") - b.get("pos.z"));
    $("hand").replaceChildren(...mine.map((c) => {
      const el = cardEl(c.get("suit"), c.get("rank"), "button");
      if (top && (c.get("suit") === top.get("suit") || c.get("rank") === top.get("rank"))) el.classList.add("playable");
      el.onclick = () => room.sendEvent("PlayCard", { card: c.id });
      return el;
    }));
  });

  room.onEvent((ev) => {
    const v = ev.values;
    switch (ev.name) {
      case "Chat":
        log((v.from ? (seats.get(v.from) || "seat " + v.from) + ": " : "— ") + v.text);
        break;
      case "Dealt":
        log("you got " + Array.from(v.cards, codeName).join(" "));
        break;
      case "TurnChanged":
        if (v.played >= 0) log("played " + codeName(v.played));
        log(`seat ${v.seat}'s turn`);
        break;
      case "GameOver":
        log(`game over: ${seats.get(v.winner) || "seat " + v.winner} wins; scores ${Array.from(v.scores).join(", ")}`);
        break;
    }
  });

  $("draw").onclick = () => room.sendEvent("Draw", {});
  $("chat").onsubmit = (ev) => {
    ev.preventDefault();
    if ($("say").value) room.sendEvent("Chat", { text: $("say").value });
    $("say").value = "";
  };
  // The pointer, in table units (-2..2), sent with every input.
  let pointer = { x: 0, y: 0, z: 0 };
  $("table").onmousemove = (e) => {
    const r = $("table").getBoundingClientRect();
    pointer = { x: ((e.clientX - r.left) / r.width) * 4 - 2, y: 0, z: ((e.clientY - r.top) / r.height) * 4 - 2 };
    room.sendInput({ pointer });
  };
}

main();
