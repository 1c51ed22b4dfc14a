"""Container lifecycle hooks (upstream ``pkg/kubelet/lifecycle/handlers.go``): ``postStart`` right after a
container started (the pod worker waits for it; a failure kills the container, event ``FailedPostStartHook``)
and ``preStop`` before the stop signal, within the termination grace period (a failure is reported as
``FailedPreStopHook`` and the container is stopped anyway). Handlers: ``exec`` in the container, ``httpGet``
to the pod IP (any answer counts: only a transport error fails), ``sleep``."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp

from pybernetes.client.clock import REAL, Clock
from pybernetes.kubelet.env import go_quote
from pybernetes.kubelet.podstatus import format_pod
from pybernetes.kubelet.prober import USER_AGENT, Execer, http_url
from pybernetes.kubelet.runtime.interface import RuntimeFailure

Obj = dict[str, Any]


def go_list(items: list[str]) -> str:
    return "[" + " ".join(items) + "]"


async def run_handler(handler: Obj, *, runtime: Execer, container_id: str, pod: Obj, container: Obj, pod_ip: str,
                      timeout: float, clock: Clock = REAL, session: aiohttp.ClientSession | None = None
                      ) -> str | None:
    """Run one lifecycle handler; None on success, else upstream's message for the event."""
    name = container.get("name", "")
    if (action := handler.get("exec")) is not None:
        cmd = [str(c) for c in action.get("command") or ()]
        try:
            res = await asyncio.wait_for(runtime.exec_sync(container_id, cmd, timeout=timeout), timeout + 5)
        except TimeoutError:
            err, output = f"command {go_quote(' '.join(cmd))} timed out", ""
        except RuntimeFailure as e:
            err, output = str(e), ""
        else:
            if res.exit_code == 0:
                return None
            output = (bytes(res.stdout or b"") + bytes(res.stderr or b"")).decode(errors="replace")
            err = f"command '{' '.join(cmd)}' exited with {res.exit_code}: {bytes(res.stderr or b'').decode()}"
        return (f"Exec lifecycle hook ({go_list(cmd)}) for Container {go_quote(name)} in Pod "
                f"{go_quote(format_pod(pod))} failed - error: {err}, message: {go_quote(output)}")
    if (action := handler.get("httpGet")) is not None:
        try:
            url = http_url(action, pod_ip=pod_ip, container=container)
            headers = {"User-Agent": USER_AGENT, **{h.get("name", ""): h.get("value", "")
                                                    for h in action.get("httpHeaders") or () if h.get("name")}}
            own = session is None
            s = session or aiohttp.ClientSession()
            try:
                async with s.get(url, headers=headers, ssl=False, allow_redirects=False,
                                 timeout=aiohttp.ClientTimeout(total=timeout)) as resp:
                    await resp.read()
            finally:
                if own:
                    await s.close()
            return None
        except (aiohttp.ClientError, TimeoutError, ValueError, OSError) as e:
            return (f"HTTP lifecycle hook ({action.get('path', '')}) for Container {go_quote(name)} in Pod "
                    f"{go_quote(format_pod(pod))} failed - error: {e or type(e).__name__}")
    if (action := handler.get("sleep")) is not None:
        await clock.sleep(min(float(action.get("seconds") or 0), timeout))
        return None
    return f"Invalid handler: {handler}"
