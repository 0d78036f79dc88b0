//go:build !unix

package main

import "os"

func openDevice(path string) (*os.File, error) { return os.OpenFile(path, os.O_WRONLY, 0) }
