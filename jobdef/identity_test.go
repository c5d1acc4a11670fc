package jobdef

import "testing"

func TestJobIdentity(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in      string
		id      int64
		attempt int
		ok      bool
	}{
		{`{"12": {"attemptNr": 4}}`, 12, 4, true},
		{`{"30": {}, "4": {"attemptNr": "2"}}`, 4, 2, true},
		{`{"PandaID": 77, "attemptNr": 3}`, 77, 3, true},
		{`{"StatusCode": 0, "jobs": [{"PandaID": "78"}]}`, 78, 1, true},
		{`{"success": true, "data": {"jobs": [{"PandaID": 79, "attemptNr": -2}]}}`, 79, 1, true},
		{"PandaID=80&attemptNr=5", 80, 5, true},
		{"PandaID=0", 0, 0, false},
		{`{"PandaID": "x"}`, 0, 0, false},
		{`{"a": 1}`, 0, 0, false},
		{"", 0, 0, false},
		{"{", 0, 0, false},
	}
	for _, c := range cases {
		id, attempt, ok := JobIdentity([]byte(c.in))
		if id != c.id || attempt != c.attempt || ok != c.ok {
			t.Errorf("JobIdentity(%q) = %d, %d, %v; want %d, %d, %v", c.in, id, attempt, ok, c.id, c.attempt, c.ok)
		}
	}
}

// FuzzJobIdentity: never panics; a found PandaID is positive.
func FuzzJobIdentity(f *testing.F) {
	for _, s := range []string{`{"7": {"PandaID": 7, "attemptNr": 2}}`, "PandaID=9&attemptNr=1&jobName=x", `{"12": {"attemptNr": 4}}`, `{"data": {"jobs": [{"PandaID": 1}]}}`, "PandaID=-1", "%zz"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		id, attempt, ok := JobIdentity(data)
		if ok && (id <= 0 || attempt < 0) {
			t.Fatalf("JobIdentity = %d, %d", id, attempt)
		}
		if !ok && (id != 0 || attempt != 0) {
			t.Fatalf("not found but %d, %d", id, attempt)
		}
	})
}
