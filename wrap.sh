#!/bin/sh
exec /root/.pyenv/versions/3.12.1/bin/python3 "$@"
