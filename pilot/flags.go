package pilot

import (
	"fmt"
	"reflect"

	"github.com/spf13/pflag"
)

// bindStruct declares a flag for every field of *cfg that has a `flag` tag,
// bound to the field, with the field's current value as default. Supported
// field kinds are string, int and bool; anything else is a programming error.
func bindStruct(fs *pflag.FlagSet, cfg any) {
	v := reflect.ValueOf(cfg).Elem()
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name := f.Tag.Get("flag")
		if name == "" {
			continue
		}
		short := f.Tag.Get("short")
		help := f.Tag.Get("help")
		if env := f.Tag.Get("envconfig"); env != "" {
			help += fmt.Sprintf(" [$%s_%s]", EnvPrefix, env)
		}
		p := v.Field(i).Addr().Interface()
		switch ptr := p.(type) {
		case *string:
			fs.StringVarP(ptr, name, short, *ptr, help)
		case *int:
			fs.IntVarP(ptr, name, short, *ptr, help)
		case *bool:
			fs.BoolVarP(ptr, name, short, *ptr, help)
		default:
			panic(fmt.Sprintf("pilot: config field %s has unsupported type %s", f.Name, f.Type))
		}
	}
}

// eachField calls fn with the flag name (or field name) and value of every
// exported field of *cfg.
func eachField(cfg any, fn func(name string, v any)) {
	v := reflect.ValueOf(cfg).Elem()
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name := f.Tag.Get("flag")
		if name == "" {
			name = f.Name
		}
		fn(name, v.Field(i).Interface())
	}
}
