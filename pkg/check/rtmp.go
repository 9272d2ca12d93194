package check

import (
	"context"
	"errors"
)

func runRTMP(_ context.Context, _ Config) (*Report, error) {
	return nil, errors.New("rtmp: not yet")
}
