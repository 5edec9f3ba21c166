// Package sim is the fixed-tick engine of ticksync: the drift-free tick
// clock, the room loop, per-player input and event queues, the snapshot
// history and the per-baseline snapshot encoding. It knows nothing of
// sockets, matches or Raft, nor of any game's fields: a World (a game with
// a schema, the arena among them) is a StateWriter whose state gamedelta
// encodes, and its inputs are opaque data; game plugs a World in, net/ws
// plugs Conns in.
//
// Data flow through a Room:
//
//	read goroutines ──PushInput──▶ one input queue per player (bounded; full: drop its oldest and count)
//	read goroutines ──PushEvent──▶ one client event queue per player (bounded; full: refused)
//	game.Manager ──Join/JoinWith/Leave/Attach/Detach/Do──▶ command channel
//	                                   │
//	                       room goroutine, each tick:
//	   drain the queues → input buffer per player; event acks drop acknowledged server events
//	   → new client events, in seq order → EventHandler.Event
//	   → one input per player (the newest by default; see Config.InputBuffer)
//	   → World.Step(tick, inputs)          (the World may Outbox.Send/Broadcast/End)
//	   → capture the state: StateWriter.WriteState into a gamedelta.World → gamedelta.Encoder.Record
//	   → per client: baseline = its ack tick if still in the encoder's ring, else 0 (full);
//	       Viewer.View → Encoder.Encode (shared per baseline and view);
//	       one envelope (Snapshot.State, Events, EventSeq) per distinct encoding,
//	       one of its own for a player with server events pending
//	   → PatchLastInputSeq per client → Conn.SendSnapshot (copies; latest wins)
//
// In a cluster a room may be gated (WithGate: no tick while the node's
// lease is lost), frozen (Freeze/Thaw, for hand-overs), restored from a
// checkpoint (WithRestore, WithQueuedEvents), checkpointed (WithCheckpoint:
// the World's MarshalState and the seats, every interval, on the room
// goroutine) and recorded (WithRecord: one record per tick of the seat
// changes, client events and inputs it applied and a hash of the resulting
// state), so that Replay can step a World restored from a checkpoint to
// the room's last recorded tick and detect a game that does not replay the
// same.
//
// See DESIGN.md for goroutines, ownership and the reasons behind them.
package sim
