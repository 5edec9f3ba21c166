package cards

import (
	flatbuffers "github.com/google/flatbuffers/go"

	"github.com/ticksync/ticksync/examples/cards/cards/cardsfb"
)

// The server events, built with flatc's Go builders into one reused
// builder: each returns a ServerEvents buffer that is valid until the next
// one is built (the Outbox copies it).

// wrap finishes ev, an event of union type typ, in the ServerEvents
// wrapper.
func (g *Game) wrap(typ cardsfb.ServerEvent, ev flatbuffers.UOffsetT) []byte {
	b := g.b
	cardsfb.ServerEventsStart(b)
	cardsfb.ServerEventsAddEventType(b, typ)
	cardsfb.ServerEventsAddEvent(b, ev)
	b.Finish(cardsfb.ServerEventsEnd(b))
	return b.FinishedBytes()
}

// chat is a Chat line from seat from (0: the table).
func (g *Game) chat(from uint8, text []byte) []byte {
	b := g.b
	b.Reset()
	t := b.CreateByteString(truncate(text, maxChatLen))
	cardsfb.ChatStart(b)
	cardsfb.ChatAddFrom(b, from)
	cardsfb.ChatAddText(b, t)
	return g.wrap(cardsfb.ServerEventChat, cardsfb.ChatEnd(b))
}

// dealt is a Dealt event with the codes of cards.
func (g *Game) dealt(cards []uint8) []byte {
	b := g.b
	b.Reset()
	v := b.CreateByteVector(cards)
	cardsfb.DealtStart(b)
	cardsfb.DealtAddCards(b, v)
	return g.wrap(cardsfb.ServerEventDealt, cardsfb.DealtEnd(b))
}

// turnChanged is a TurnChanged event: seat's turn, after played (-1: none).
func (g *Game) turnChanged(seat uint8, played int8) []byte {
	b := g.b
	b.Reset()
	cardsfb.TurnChangedStart(b)
	cardsfb.TurnChangedAddSeat(b, seat)
	cardsfb.TurnChangedAddPlayed(b, played)
	return g.wrap(cardsfb.ServerEventTurnChanged, cardsfb.TurnChangedEnd(b))
}

// gameOver is the GameOver event of the game as it stands.
func (g *Game) gameOver() []byte {
	g.codes = g.codes[:0]
	for s := 1; s <= MaxPlayers; s++ {
		g.codes = append(g.codes, g.seats[s].score)
	}
	b := g.b
	b.Reset()
	v := b.CreateByteVector(g.codes)
	cardsfb.GameOverStart(b)
	cardsfb.GameOverAddWinner(b, g.winner)
	cardsfb.GameOverAddScores(b, v)
	return g.wrap(cardsfb.ServerEventGameOver, cardsfb.GameOverEnd(b))
}

// tell sends seat s a line from the table: why its action was refused.
func (g *Game) tell(s int, text string) {
	if p := g.seats[s].player; p != 0 {
		g.out.Send(p, g.chat(0, []byte(text)))
	}
}

// announce sends everyone a line from the table.
func (g *Game) announce(text string) { g.out.Broadcast(g.chat(0, []byte(text))) }
