// The cards page: a client of the cards game written with @ticksync/client.
// It needs the library's browser bundle beside it as ticksync-client.js
// (clients/ts builds it), exporting connect(url) → { joinOrCreate(game,
// options) → room }, where the room has onState, onEvent, sendInput,
// sendEvent and playerId, and a world has ofKind(kind) with entities
// { id, owner, value(field) } (quantized floats as real numbers).

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
      const room = await lib.connect(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`)
        .joinOrCreate("cards", { name, join: { name, color, mode } });
      play(room);
    } catch (e) {
      $("status").textContent = "cannot join: " + (e.message || e);
      $("join").hidden = false;
    }
  };
}

function play(room) {
  $("status").textContent = "";
  $("table").hidden = $("chat").hidden = false;
  let seats = new Map(); // seat number → name

  room.onState((world) => {
    const [table] = world.ofKind("cards.Table");
    if (!table) return;
    const turn = table.value("turn");
    $("seats").replaceChildren(...world.ofKind("cards.Seat").map((s) => {
      seats.set(s.value("seat"), s.value("name"));
      const el = document.createElement("div");
      el.className = "seat" + (s.value("seat") === turn ? " turn" : "");
      el.style.color = "#" + s.value("color").toString(16).padStart(6, "0");
      el.textContent = `seat ${s.value("seat")}: ${s.value("name")}, ${s.value("hand_size")} cards, score ${s.value("score")}` +
        (s.owner === room.playerId ? ` (you; ${s.value("playable")} playable)` : "");
      return el;
    }));
    const cards = world.ofKind("cards.Card");
    const pile = cards.filter((c) => c.value("face_up")).sort((a, b) => a.value("pos.y") - b.value("pos.y"));
    const top = pile[pile.length - 1];
    $("pile").replaceChildren(top ? cardEl(top.value("suit"), top.value("rank")) : "");
    $("deck").textContent = table.value("deck");
    $("clock").textContent = PHASES[table.value("phase")] +
      (table.value("start_in") ? `, dealing in ${table.value("start_in")} s` : "") +
      (table.value("turn_left") ? `, ${table.value("turn_left")} s left in the turn` : "");
    const mine = cards.filter((c) => c.owner === room.playerId).sort((a, b) => a.value("pos.x") + a.value("pos.z") - b.value("pos.x") - b.value("pos.z"));
    $("hand").replaceChildren(...mine.map((c) => {
      const el = cardEl(c.value("suit"), c.value("rank"), "button");
      if (top && (c.value("suit") === top.value("suit") || c.value("rank") === top.value("rank"))) el.classList.add("playable");
      el.onclick = () => room.sendEvent("PlayCard", { card: c.id });
      return el;
    }));
  });

  room.onEvent((ev) => {
    switch (ev.type) {
      case "Chat":
        log((ev.value("from") ? (seats.get(ev.value("from")) || "seat " + ev.value("from")) + ": " : "— ") + ev.value("text"));
        break;
      case "Dealt":
        log("you got " + Array.from(ev.value("cards"), codeName).join(" "));
        break;
      case "TurnChanged":
        if (ev.value("played") >= 0) log("played " + codeName(ev.value("played")));
        log(`seat ${ev.value("seat")}'s turn`);
        break;
      case "GameOver":
        log(`game over: ${seats.get(ev.value("winner")) || "seat " + ev.value("winner")} wins; scores ${Array.from(ev.value("scores")).join(", ")}`);
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
