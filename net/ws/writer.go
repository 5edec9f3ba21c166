package ws

import (
	"runtime/debug"
	"sync/atomic"
	"time"
)

// writeLoop is the session's writer goroutine: when woken it queues a ping
// if one is due (every PingInterval) and flushes the outbound (everything
// queued, with blocking writes under the slow-consumer deadline; see
// outbound.flush). It exits once the write side has ended (a close frame is
// out) or the socket failed, or when the read loop has ended (the reader
// closes done, then signals; finish writes what is left).
//
// It blocks on the wake channel alone: a select over done, a ping ticker and
// wake cost a few per cent of the node's CPU at one wake-up per snapshot
// (measured at 1,500 players: 7.91 s against 8.20 s of CPU in 10 s), so the
// ping timer and the reader's exit signal the same channel instead.
func (s *session) writeLoop() {
	defer s.srv.wg.Done()
	defer close(s.writerDone)
	defer func() {
		if r := recover(); r != nil {
			s.srv.m.panics.Add(1)
			s.srv.log.Error().Uint64(keySession, s.id).Interface(keyPanic, r).Bytes(keyStack, debug.Stack()).Msg("panic in session writer")
			s.decide(CloseInternal)
			s.out.abort()
		}
	}()
	every := s.srv.cfg.PingInterval
	var pingDue atomic.Bool
	ping := time.AfterFunc(every, func() {
		pingDue.Store(true)
		s.out.signal()
	})
	defer ping.Stop()
	for {
		<-s.out.wake
		select {
		case <-s.done:
			return
		default:
		}
		if pingDue.CompareAndSwap(true, false) {
			s.out.ping()
			ping.Reset(every)
		}
		if !s.out.flush() {
			return
		}
	}
}
