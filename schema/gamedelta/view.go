package gamedelta

import "slices"

// View is what one client sees of a world: which entities. Whether it sees
// an entity's OwnerOnly fields is not part of the view but of the client's
// player id (it does when it owns the entity).
//
// A nil *View, or All, sees every entity. Otherwise IDs lists the visible
// entity ids, strictly ascending; ids not in the world are ignored.
//
// Key is an optional hint for sharing encodings: the Encoder compares
// views by content, and only uses Key to tell views apart quickly. Two
// views with different non-zero Keys are taken to be different (they are
// then encoded separately even if their IDs are equal); a zero Key is
// always compared by content. A game with area-of-interest cells can use
// the cell number.
type View struct {
	Key uint64
	All bool
	IDs []uint32
}

// all reports whether v sees every entity.
func (v *View) all() bool { return v == nil || v.All }

// sameView reports whether a and b see the same entities.
func sameView(a, b *View) bool {
	if a.all() || b.all() {
		return a.all() == b.all()
	}
	if a.Key != 0 && b.Key != 0 && a.Key != b.Key {
		return false
	}
	return slices.Equal(a.IDs, b.IDs)
}

// viewOK reports whether v's IDs are strictly ascending.
func viewOK(v *View) bool {
	if v.all() {
		return true
	}
	for i := 1; i < len(v.IDs); i++ {
		if v.IDs[i] <= v.IDs[i-1] {
			return false
		}
	}
	return true
}

// cursor walks the entities of a world that a view sees, in id order.
type cursor struct {
	w    *World
	ids  []uint32 // nil with all
	all  bool
	n    int // entities of w (0: none, or no w)
	i, j int // next entity, next id of the view
}

func (c *cursor) reset(w *World, v *View) {
	c.w, c.all, c.ids, c.i, c.j, c.n = w, v.all(), nil, 0, 0, 0
	if !c.all {
		c.ids = v.IDs
	}
	if w != nil {
		c.n = len(w.ents)
	}
}

// next returns the index of the next visible entity, or -1. Small enough
// to be inlined for a view of everything.
func (c *cursor) next() int {
	if c.all {
		if c.i >= c.n {
			return -1
		}
		c.i++
		return c.i - 1
	}
	return c.nextSeen()
}

// nextSeen is next for a view of some entities (not inlined, so that
// next is).
//
//go:noinline
func (c *cursor) nextSeen() int {
	if c.w == nil {
		return -1
	}
	ents := c.w.ents[:c.n]
	for c.i < len(ents) && c.j < len(c.ids) {
		switch id := ents[c.i].id; {
		case id < c.ids[c.j]:
			c.i++
		case id > c.ids[c.j]:
			c.j++
		default:
			c.i++
			c.j++
			return c.i - 1
		}
	}
	return -1
}
