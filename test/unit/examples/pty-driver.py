"""Runs a command in a pseudo-terminal and answers its prompts one by one.

usage: python3 pty-driver.py ANSWERS_JSON -- COMMAND [ARGS...]

Each answer is sent when the program shows a prompt (output ending in ": ");
"^C" sends Ctrl-C, "^D" sends Ctrl-D. Prints the terminal transcript, then a
last line `EXIT <status>` (128+n when killed by signal n).
"""
import json
import os
import pty
import re
import select
import sys
import time

answers = json.loads(sys.argv[1])
command = sys.argv[sys.argv.index('--') + 1:]
pid, fd = pty.fork()
if pid == 0:
    os.execvp(command[0], command)

PROMPT = re.compile(r'(\]|\)): $')
transcript = b''
pending = b''
deadline = time.time() + 30
status = None
while time.time() < deadline:
    ready, _, _ = select.select([fd], [], [], 0.1)
    if ready:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            chunk = b''
        if not chunk:
            break
        transcript += chunk
        pending += chunk
    text = pending.decode('utf8', 'replace')
    if PROMPT.search(text) and not ready:
        pending = b''
        if answers:
            answer = answers.pop(0)
            if answer == '^C':
                os.write(fd, b'\x03')
            elif answer == '^D':
                os.write(fd, b'\x04')
            else:
                os.write(fd, answer.encode() + b'\r')
    done, code = os.waitpid(pid, os.WNOHANG)
    if done:
        status = code
        # drain what is left
        while True:
            ready, _, _ = select.select([fd], [], [], 0.1)
            if not ready:
                break
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            transcript += chunk
        break
if status is None:
    try:
        _, status = os.waitpid(pid, 0) if time.time() < deadline else (os.kill(pid, 9), os.waitpid(pid, 0))[1]
    except Exception:
        status = 9
sys.stdout.write(transcript.decode('utf8', 'replace').replace('\r\n', '\n'))
code = os.waitstatus_to_exitcode(status) if isinstance(status, int) else 1
if code < 0:
    code = 128 - code
sys.stdout.write('\nEXIT %d\n' % code)
