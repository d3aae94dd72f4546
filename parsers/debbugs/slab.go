package debbugs

// slab hands out small slices cut from shared chunks, so that the actions
// of a long transcript (hundreds of commands) do not cost an allocation
// each for their bug and argument lists. Every slice is cut with its
// capacity equal to what was asked for, so appending to one copies it and
// never writes into its neighbour.
type slab struct {
	nums  []int
	words []string
}

// slabChunk is the size of a chunk; larger requests get their own slice.
const slabChunk = 256

// one returns []int{n}. A nil slab allocates it.
func (s *slab) one(n int) []int {
	if s == nil {
		return []int{n}
	}
	if len(s.nums) == cap(s.nums) {
		s.nums = make([]int, 0, slabChunk)
	}
	k := len(s.nums)
	s.nums = append(s.nums, n)
	return s.nums[k : k+1 : k+1]
}

// strs returns an empty, non-nil []string with capacity c. A nil slab
// allocates it.
func (s *slab) strs(c int) []string {
	if s == nil || c > slabChunk/4 {
		return make([]string, 0, c)
	}
	if cap(s.words)-len(s.words) < c || s.words == nil {
		s.words = make([]string, 0, slabChunk)
	}
	k := len(s.words)
	s.words = s.words[:k+c]
	return s.words[k : k : k+c]
}
