// Package cards is a card game on ticksync: a shedding game for 2 to 4
// players, written only against ticksync's public packages, as a game
// developer brings their own game (docs/GAME.md walks through it).
//
// The rules: when two players sit at the table a short countdown starts
// (at once with four); each player is dealt 5 cards (3 in the quick mode)
// and the deck's next card starts the pile. On your turn, play a card of
// the top card's suit or rank; when you hold none, draw one, which ends
// your turn. The first to empty their hand wins and scores one point per
// card left in the other hands. A turn not taken within TurnSeconds is
// played for the player. The match ends EndSeconds after the game.
//
// Data flows, all on the match's room goroutine:
//
//   - cards.fbs is the schema the server and every client share. Its
//     compiled form, cards.bfbs (embedded: BFBS), is what the node
//     registers; ticksync verifies every input, event and join payload
//     against it and delta-encodes the entities by it. cardsfb holds
//     flatc's Go accessors and builders for the same file.
//   - JoinWith seats a player from its join payload (name, colour, mode);
//     Event applies PlayCard, Draw and Chat; Step reads each player's
//     pointer from its input and runs the clocks; the Outbox carries
//     Dealt (to one player), TurnChanged, Chat and GameOver (to all), and
//     ends the match.
//   - WriteState writes the table, the seats and the 52 cards into the
//     room's gamedelta.World; View limits each player to the table, the
//     seats, the pile and its own hand, so that no other hand, and not the
//     deck, ever reaches it.
//
// The game is deterministic from its seed: shuffles come from a PCG
// generator seeded by it and saved in MarshalState; nothing reads the
// clock.
package cards

//go:generate flatc --binary --schema cards.fbs
//go:generate sh -c "flatc --go --go-namespace cardsfb cards.fbs && gofmt -w cardsfb"
