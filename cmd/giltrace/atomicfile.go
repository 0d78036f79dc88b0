package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// writeFile writes an output file with write, so that a failure never
// removes or truncates anything giltrace did not create:
//
//  1. a regular file, or a path that does not exist, is written to a
//     temporary file in its directory (".NAME.tmp*") renamed over it when
//     complete: readers see the old content or the new, never a part, and a
//     failure (a full disk, Ctrl-C) leaves the old file as it was;
//  2. a symbolic link is followed: its target is replaced in the same way,
//     and the link stays;
//  3. a device or other non-regular file (/dev/stdout, /dev/null, a FIFO)
//     is written directly, without truncating or removing it: it is not a
//     file that could be "half written";
//  4. a directory is refused.
//
// write gets a writer that fails with ctx's error once ctx is done, so that
// an output stops within one buffer of a signal.
func writeFile(ctx context.Context, path string, write func(io.Writer) error) error {
	target := path
	if fi, err := os.Lstat(path); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
		if target, err = filepath.EvalSymlinks(path); err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				return err
			}
			// A dangling link: write its target.
			dest, lerr := os.Readlink(path)
			if lerr != nil {
				return lerr
			}
			if !filepath.IsAbs(dest) {
				dest = filepath.Join(filepath.Dir(path), dest)
			}
			target = dest
		}
	}
	fi, err := os.Stat(target)
	switch {
	case err == nil && fi.IsDir():
		return fmt.Errorf("%s is a directory", path)
	case err == nil && !fi.Mode().IsRegular():
		return writeDevice(ctx, target, write)
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return err
	}
	mode := fs.FileMode(0o644)
	if err == nil {
		mode = fi.Mode().Perm() // replacing a file keeps its permissions
	}
	return replaceFile(ctx, target, mode, write)
}

// replaceFile writes path through a temporary file in its directory,
// renamed into place when complete; on failure the temporary file is
// removed and path is untouched.
func replaceFile(ctx context.Context, path string, mode fs.FileMode, write func(io.Writer) error) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		// The temporary file's name means nothing to the user: say what
		// is wrong with the directory the output goes into.
		dir := filepath.Dir(path)
		if st, serr := os.Stat(dir); serr != nil {
			return fmt.Errorf("its directory %s: %w", dir, errors.Unwrap(serr))
		} else if !st.IsDir() {
			return fmt.Errorf("%s is not a directory", dir)
		}
		cause := err
		if u := errors.Unwrap(err); u != nil {
			cause = u
		}
		return fmt.Errorf("creating a temporary file in %s: %w", dir, cause)
	}
	in := interruptsOf(ctx)
	in.track(f.Name(), true)
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
		in.track(f.Name(), false)
	}()
	bw := bufio.NewWriterSize(&ctxWriter{ctx: ctx, w: f}, 64<<10)
	if err := write(bw); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if err := f.Chmod(mode); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// writeDevice writes to a non-regular file in place. A named pipe is
// opened without waiting for a reader: with none, it is an error at once
// (opening it for writing would block until one came).
func writeDevice(ctx context.Context, path string, write func(io.Writer) error) (err error) {
	f, err := openDevice(path)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	return writeStream(ctx, f, write)
}

// writeStream writes to a stream (stdout, a device) and reports its write
// errors, which exporters writing through their own buffers might not.
func writeStream(ctx context.Context, w io.Writer, write func(io.Writer) error) error {
	cw := &ctxWriter{ctx: ctx, w: w}
	bw := bufio.NewWriterSize(cw, 64<<10)
	err := write(bw)
	if err == nil {
		err = bw.Flush()
	}
	if err == nil {
		err = cw.err
	}
	return err
}

// ctxWriter fails every write once ctx is done, and keeps its first error.
type ctxWriter struct {
	ctx context.Context
	w   io.Writer
	err error
}

func (c *ctxWriter) Write(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	if c.ctx.Err() != nil {
		c.err = context.Cause(c.ctx) // "stopped by SIGINT"
		return 0, c.err
	}
	n, err := c.w.Write(p)
	if err != nil {
		c.err = err
	}
	return n, err
}
