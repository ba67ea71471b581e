"""The probe function deployed by test_sandbox.py: each event names one forbidden thing to try.
Every probe returns what happened; the tests decide what must have happened."""
import ctypes
import errno
import json
import os
import socket
import urllib.request

libc = ctypes.CDLL(None, use_errno=True)


def _call(fn, *args):
    rc = fn(*args)
    return {"rc": rc, "errno": errno.errorcode.get(ctypes.get_errno(), ctypes.get_errno()) if rc != 0 else None}


def status():
    fields = {}
    for line in open("/proc/self/status"):
        key, _, value = line.partition(":")
        if key in ("NoNewPrivs", "Seccomp", "CapEff", "CapPrm", "CapBnd", "Uid", "Gid"):
            fields[key] = value.strip()
    return fields


def probe(name, event):
    if name == "status":
        return {"status": status(), "env_api": os.environ.get("AWS_LAMBDA_RUNTIME_API"), "uid": os.getuid()}
    if name == "mount":
        return _call(libc.mount, b"tmpfs", b"/tmp", b"tmpfs", 0, None)
    if name == "unshare":
        return _call(libc.unshare, 0x10000000)  # CLONE_NEWUSER
    if name == "ptrace":
        return _call(libc.ptrace, 16, 1, None, None)  # PTRACE_ATTACH to pid 1
    if name == "bpf":
        return _call(libc.syscall, 321, 0, None, 0)  # bpf(BPF_MAP_CREATE, NULL, 0)
    if name == "keyctl":
        return _call(libc.syscall, 250, 0, 0, 0, 0, 0)  # keyctl(KEYCTL_GET_KEYRING_ID, …)
    if name == "read":
        path = event["path"]
        try:
            with open(path, "rb") as f:
                return {"read": len(f.read())}
        except OSError as e:
            return {"error": errno.errorcode.get(e.errno, str(e.errno))}
    if name == "read_text":
        with open(event["path"]) as f:
            return {"text": f.read()}
    if name == "listdir":
        try:
            return {"entries": sorted(os.listdir(event["path"]))}
        except OSError as e:
            return {"error": errno.errorcode.get(e.errno, str(e.errno))}
    if name == "write":
        try:
            with open(event["path"], "w") as f:
                f.write("x")
            return {"wrote": True}
        except OSError as e:
            return {"error": errno.errorcode.get(e.errno, str(e.errno))}
    if name == "pids":
        return {"pids": sorted(int(p) for p in os.listdir("/proc") if p.isdigit())}
    if name == "kill":
        try:
            os.kill(int(event["pid"]), 0)
            return {"signalled": True}
        except OSError as e:
            return {"error": errno.errorcode.get(e.errno, str(e.errno))}
    if name == "fill_tmp":
        written = 0
        chunk = b"\0" * (1 << 20)
        try:
            with open("/tmp/fill", "wb") as f:
                while written < (event["mb"] << 20):
                    f.write(chunk)
                    f.flush()
                    written += len(chunk)
            return {"written_mb": written >> 20}
        except OSError as e:
            return {"error": errno.errorcode.get(e.errno, str(e.errno)), "written_mb": written >> 20}
        finally:
            try:
                os.unlink("/tmp/fill")
            except OSError:
                pass
    if name == "fds":
        opened = []
        try:
            while len(opened) < 100000:
                opened.append(os.open("/dev/null", os.O_RDONLY))
            return {"opened": len(opened)}
        except OSError as e:
            return {"error": errno.errorcode.get(e.errno, str(e.errno)), "opened": len(opened)}
        finally:
            for fd in opened:
                os.close(fd)
    if name == "fork_bomb":
        while True:
            try:
                os.fork()
            except OSError:
                pass
    if name == "allocate":
        hog = bytearray(event["mb"] << 20)
        for i in range(0, len(hog), 4096):
            hog[i] = 1
        return {"allocated_mb": event["mb"]}
    if name == "connect":
        try:
            s = socket.create_connection((event["host"], event["port"]), timeout=2)
            s.close()
            return {"connected": True}
        except OSError as e:
            return {"error": type(e).__name__}
    if name == "steal":
        # Post a result for another invocation's request id to "the" Runtime API.
        api = os.environ["AWS_LAMBDA_RUNTIME_API"]
        req = urllib.request.Request(f"http://{api}/2018-06-01/runtime/invocation/{event['victim']}/response",
                                     data=b'"stolen"', method="POST")
        try:
            with urllib.request.urlopen(req, timeout=5) as res:
                return {"status": res.status}
        except urllib.error.HTTPError as e:
            return {"status": e.code, "body": json.loads(e.read() or b"{}")}
    if name == "sleep":
        import time
        time.sleep(event["seconds"])
        return {"slept": event["seconds"], "request_id": event.get("tag")}
    raise ValueError(f"unknown probe {name}")


def handler(event, context):
    return probe(event["probe"], event)
