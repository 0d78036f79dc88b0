#!/usr/bin/env python3
import threading
print("hi")
