package media

import (
	"reflect"

	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
)

// NumberPayloadTypes gives every format with a dynamic RTP payload type
// (96..127) its own number, from 96 in media order; static types (0, 8,
// 14...) are kept. Sources that do not come from RTP call it once when
// they build their description, so no two tracks announce the same type.
func NumberPayloadTypes(desc *description.Session) {
	pt := uint8(96)
	for _, m := range desc.Medias {
		for _, f := range m.Formats {
			if f.PayloadType() < 96 {
				continue
			}
			setPayloadType(f, pt)
			if pt < 127 {
				pt++
			}
		}
	}
}

// setPayloadType sets the PayloadTyp field every gortsplib format has.
func setPayloadType(f format.Format, pt uint8) {
	v := reflect.ValueOf(f)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return
	}
	fv := v.Elem().FieldByName("PayloadTyp")
	if fv.IsValid() && fv.CanSet() && fv.Kind() == reflect.Uint8 {
		fv.SetUint(uint64(pt))
	}
}
