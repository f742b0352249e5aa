// SPDX-License-Identifier: Apache-2.0

package stopgate

/*
#include <errno.h>
#include <stopgate.h>
*/
import "C"

import (
	"errors"
	"fmt"
	"syscall"
)

// Error is an error code of libstopgate: Code is negative (an SG_E* code or
// -errno), Name its name ("SG_ELOCKED", "ENOENT"), Msg the library's
// sg_strerror text, Op what was being done.
type Error struct {
	Code int
	Name string
	Msg  string
	Op   string
}

func (e *Error) Error() string {
	if e.Op != "" {
		return e.Op + ": " + e.Msg
	}
	return e.Msg
}

// Is matches another *Error by code, so errors.Is(err, ErrLocked) works.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// The library's codes, for errors.Is.
var (
	ErrNumber    = &Error{Code: C.SG_ENUMBER, Name: "SG_ENUMBER"}
	ErrNoCountry = &Error{Code: C.SG_ENOCOUNTRY, Name: "SG_ENOCOUNTRY"}
	ErrUTF8      = &Error{Code: C.SG_EUTF8, Name: "SG_EUTF8"}
	ErrTooLong   = &Error{Code: C.SG_ETOOLONG, Name: "SG_ETOOLONG"}
	ErrStore     = &Error{Code: C.SG_ESTORE, Name: "SG_ESTORE"}
	ErrCorrupt   = &Error{Code: C.SG_ECORRUPT, Name: "SG_ECORRUPT"}
	ErrReadOnly  = &Error{Code: C.SG_ERDONLY, Name: "SG_ERDONLY"}
	ErrLocked    = &Error{Code: C.SG_ELOCKED, Name: "SG_ELOCKED"}
	ErrNotFound  = &Error{Code: C.SG_ENOTFOUND, Name: "SG_ENOTFOUND"}
	ErrJSON      = &Error{Code: C.SG_EJSON, Name: "SG_EJSON"}
	ErrConfig    = &Error{Code: C.SG_ECONFIG, Name: "SG_ECONFIG"}
	ErrKeywords  = &Error{Code: C.SG_EKEYWORDS, Name: "SG_EKEYWORDS"}
	ErrBadSig    = &Error{Code: C.SG_EBADSIG, Name: "SG_EBADSIG"}
	ErrChain     = &Error{Code: C.SG_ECHAIN, Name: "SG_ECHAIN"}
	ErrVersion   = &Error{Code: C.SG_EVERSION, Name: "SG_EVERSION"}
	ErrConsent   = &Error{Code: C.SG_ECONSENT, Name: "SG_ECONSENT"}
	ErrForbidden = &Error{Code: C.SG_EFORBIDDEN, Name: "SG_EFORBIDDEN"}
	ErrNoStore   = &Error{Code: C.SG_ENOSTORE, Name: "SG_ENOSTORE"}
	ErrTruncated = &Error{Code: C.SG_ETRUNCATED, Name: "SG_ETRUNCATED"}
	ErrInvalid   = &Error{Code: -C.EINVAL, Name: "EINVAL"}
)

// ErrClosed is returned by calls on a closed Engine.
var ErrClosed = errors.New("stopgate: engine is closed")

// ErrNotSupported: the loaded library has no such feature.
var ErrNotSupported = errors.New("not supported by this libstopgate")

var known = []*Error{ErrNumber, ErrNoCountry, ErrUTF8, ErrTooLong, ErrStore, ErrCorrupt, ErrReadOnly,
	ErrLocked, ErrNotFound, ErrJSON, ErrConfig, ErrKeywords, ErrBadSig, ErrChain, ErrVersion,
	ErrConsent, ErrForbidden, ErrNoStore, ErrTruncated}

func errName(code int) string {
	for _, k := range known {
		if k.Code == code {
			return k.Name
		}
	}
	if code < 0 && code > -4096 {
		if n := errnoName(syscall.Errno(-code)); n != "" {
			return n
		}
	}
	return fmt.Sprintf("SG_ERROR(%d)", code)
}

func errnoName(e syscall.Errno) string {
	switch e {
	case syscall.EINVAL:
		return "EINVAL"
	case syscall.ENOENT:
		return "ENOENT"
	case syscall.EACCES:
		return "EACCES"
	case syscall.ENOMEM:
		return "ENOMEM"
	case syscall.ENOSPC:
		return "ENOSPC"
	case syscall.EAGAIN:
		return "EAGAIN"
	case syscall.EIO:
		return "EIO"
	case syscall.EPERM:
		return "EPERM"
	}
	return ""
}

func newError(rc C.int, op string) error {
	code := int(rc)
	return &Error{Code: code, Name: errName(code), Msg: C.GoString(C.sg_strerror(rc)), Op: op}
}
