package arena

import "github.com/ticksync/ticksync/schema/gamedelta"

// Entity is one arena entity in wire units, as a client reads it from a
// gamedelta.World of Codec().
type Entity struct {
	ID, Owner uint32 // Owner: the avatar's player; 0 for an NPC
	Kind      int    // KindAvatar or KindNPC
	X, Y      int32  // 1/16 units, 0..MaxPos
	VX, VY    int16  // 1/16 units per tick
	Angle     uint16 // 1/65536 turns
	HP        uint8  // 1..MaxHP
}

// AppendEntities appends the entities of w (a world of Codec(), or of any
// codec compiled from the arena's schema) to dst, in w's order (id order),
// and returns the extended slice.
func AppendEntities(dst []Entity, w *gamedelta.World) []Entity {
	for i := range w.Len() {
		dst = append(dst, Entity{
			ID:    w.ID(i),
			Owner: w.Owner(i),
			Kind:  w.Kind(i),
			X:     int32(w.Int(i, FieldX)),
			Y:     int32(w.Int(i, FieldY)),
			VX:    int16(w.Int(i, FieldVX)),
			VY:    int16(w.Int(i, FieldVY)),
			Angle: uint16(w.Int(i, FieldAngle)),
			HP:    uint8(w.Int(i, FieldHP)),
		})
	}
	return dst
}
