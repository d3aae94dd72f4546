package debbugs

import (
	"reflect"
	"testing"
)

// TestSlabNoAliasing: slices from one slab never share room, so appending
// to one leaves its neighbours as they were; a nil slab allocates.
func TestSlabNoAliasing(t *testing.T) {
	for _, sl := range []*slab{nil, {}} {
		a, b := sl.one(1), sl.one(2)
		a = append(a, 9)
		if !reflect.DeepEqual(a, []int{1, 9}) || !reflect.DeepEqual(b, []int{2}) {
			t.Errorf("one: a=%v b=%v", a, b)
		}
		x, y := sl.strs(2), sl.strs(0)
		if x == nil || y == nil || len(x) != 0 || cap(x) != 2 {
			t.Fatalf("strs: x=%#v y=%#v", x, y)
		}
		x = append(x, "p", "q", "r")
		z := append(sl.strs(1), "s")
		if !reflect.DeepEqual(x, []string{"p", "q", "r"}) || !reflect.DeepEqual(z, []string{"s"}) || len(y) != 0 {
			t.Errorf("strs: x=%v y=%v z=%v", x, y, z)
		}
		for i := 0; i < 3*slabChunk; i++ { // across chunks
			if v := sl.one(i); len(v) != 1 || v[0] != i {
				t.Fatalf("one(%d) = %v", i, v)
			}
		}
		if big := sl.strs(slabChunk); cap(big) != slabChunk {
			t.Errorf("strs(%d) cap %d", slabChunk, cap(big))
		}
	}
}
