package jobdef

import (
	"encoding/json"
	"math"
	"sort"
	"strconv"
	"strings"
)

// Conversions of decoded JSON / Python-literal values (string, float64, int64, int,
// json.Number, bool, nil, []any, map[string]any), lenient in form and strict in meaning.

// anyInt converts v to an integer in [min, max]: numbers must be integral, numeric text is
// parsed like parseIntValue, nil and unset text are 0. Booleans and containers are errors.
func anyInt(code ErrorCode, key string, v any, min, max int64) (int64, error) {
	var n int64
	switch x := v.(type) {
	case nil:
		return 0, nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) || x != math.Trunc(x) || x < -9.2e18 || x > 9.2e18 {
			return 0, fieldError(code, key, "%v is not an integer", x)
		}
		n = int64(x)
	case int64:
		n = x
	case int:
		n = int64(x)
	case json.Number:
		return anyInt(code, key, string(x), min, max)
	case string:
		return parseIntCode(code, key, x, min, max)
	default:
		return 0, fieldError(code, key, "%s is not a number", describe(v))
	}
	if n < min || n > max {
		return 0, fieldError(code, key, "%d is out of range [%d, %d]", n, min, max)
	}
	return n, nil
}

// anyFloat converts v to a finite float: numbers, numeric text; nil and unset text are 0.
func anyFloat(code ErrorCode, key string, v any) (float64, error) {
	var f float64
	switch x := v.(type) {
	case nil:
		return 0, nil
	case float64:
		f = x
	case int64:
		f = float64(x)
	case int:
		f = float64(x)
	case json.Number:
		return anyFloat(code, key, string(x))
	case string:
		if IsUnset(x) {
			return 0, nil
		}
		var err error
		if f, err = strconv.ParseFloat(strings.TrimSpace(x), 64); err != nil {
			return 0, fieldError(code, key, "%q is not a number", cutForDiag(x))
		}
	default:
		return 0, fieldError(code, key, "%s is not a number", describe(v))
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, fieldError(code, key, "%v is not a finite number", f)
	}
	return f, nil
}

// anyString converts scalars to text: strings as they are, nil as "", integral numbers without
// a fraction, booleans as "True"/"False". Containers are errors.
func anyString(code ErrorCode, key string, v any) (string, error) {
	switch x := v.(type) {
	case nil:
		return "", nil
	case string:
		return x, nil
	case bool:
		if x {
			return "True", nil
		}
		return "False", nil
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case int:
		return strconv.Itoa(x), nil
	case json.Number:
		return string(x), nil
	}
	return "", fieldError(code, key, "%s is not a string", describe(v))
}

// anyBool converts v to a boolean: JSON/Python booleans, flag text (see parseBoolValue),
// numbers (non-zero is true); nil is false.
func anyBool(code ErrorCode, key string, v any) (bool, error) {
	switch x := v.(type) {
	case nil:
		return false, nil
	case bool:
		return x, nil
	case string:
		b, err := parseBoolValue(key, x)
		if err != nil {
			return false, fieldError(code, key, "%q is not a boolean", cutForDiag(x))
		}
		return b, nil
	case float64:
		return x != 0, nil
	case int64:
		return x != 0, nil
	case int:
		return x != 0, nil
	case json.Number:
		f, err := x.Float64()
		return err == nil && f != 0, nil
	}
	return false, fieldError(code, key, "%s is not a boolean", describe(v))
}

// anyStringList converts a list of scalars, or comma-separated text, to strings; nil is nil.
func anyStringList(code ErrorCode, key string, v any) ([]string, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case string:
		return nonEmpty(splitList(x)), nil
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			s, err := anyString(code, key, e)
			if err != nil {
				return nil, err
			}
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
		return out, nil
	}
	return nil, fieldError(code, key, "%s is not a list", describe(v))
}

// anyListMap converts {name: [values...]} (a value may also be one string) to a map.
func anyListMap(code ErrorCode, key string, v any) (map[string][]string, error) {
	switch x := v.(type) {
	case nil:
		return map[string][]string{}, nil
	case string:
		if IsUnset(x) {
			return map[string][]string{}, nil
		}
	case map[string]any:
		out := make(map[string][]string, len(x))
		for k, e := range x {
			l, err := anyStringList(code, key+"."+k, e)
			if err != nil {
				return nil, err
			}
			out[k] = l
		}
		return out, nil
	}
	return nil, fieldError(code, key, "%s is not a dict of lists", describe(v))
}

// describe names the JSON type of v for error messages.
func describe(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case string:
		return "a string"
	case float64, int64, int, json.Number:
		return "a number"
	case []any:
		return "a list"
	case map[string]any:
		return "a dict"
	}
	return "an unsupported value"
}

// jsonLike converts Python-literal values to the types encoding/json produces (integers
// become float64) and deep-copies containers.
func jsonLike(v any) any {
	switch x := v.(type) {
	case int64:
		return float64(x)
	case int:
		return float64(x)
	case json.Number:
		if f, err := x.Float64(); err == nil {
			return f
		}
		return string(x)
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = jsonLike(e)
		}
		return m
	case []any:
		l := make([]any, len(x))
		for i, e := range x {
			l[i] = jsonLike(e)
		}
		return l
	}
	return v
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
