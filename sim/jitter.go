package sim

// trimAfter is how many ticks in a row a player's jitter buffer may end
// non-empty before its oldest input is dropped (8 ticks: 267 ms at 30 Hz).
const trimAfter = 8

// trimStanding keeps a player's jitter buffer from holding a standing
// queue. Called once per tick by next, after the tick's input was taken.
//
// A client sends one input per tick at the server's rate. A burst (two
// inputs read in one tick: scheduling or network jitter) leaves one input
// buffered, and since inputs keep arriving at exactly the rate they are
// consumed, it stays there: every later input then waits one tick more
// than it needs to, for good (measured with 1,000 bots: input→ack RTT
// mean 71 ms with the standing queue, 22 ms without). A buffer that really
// absorbs jitter empties now and then; one that has not emptied at the end
// of trimAfter ticks in a row holds latency, not jitter, so its oldest
// input is dropped (counted as discarded), one per trimAfter ticks, until
// it empties. Inputs carry state (what the player holds now), so the next
// input supersedes the dropped one, as on the catch-up path of next.
func (p *player) trimStanding() (dropped int) {
	if len(p.pending) == 0 {
		p.standing = 0
		return 0
	}
	p.standing++
	if p.standing < trimAfter {
		return 0
	}
	p.standing = 0
	p.dropOldest()
	return 1
}
