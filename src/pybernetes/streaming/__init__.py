"""The streaming protocols of exec, attach, logs and port-forward, shared by the kubelet's server and the tests.

What is here is wire format and session logic with no knowledge of pods: SPDY/3.1 framing and sessions
(:mod:`.spdy`, :mod:`.spdysession`), the Kubernetes websocket channel protocols (:mod:`.channels`), the exec/attach
and port-forward sessions built on either (:mod:`.remotecommand`, :mod:`.portforward`), reading CRI log files
(:mod:`.crilog`) and taking over an aiohttp connection after a protocol switch (:mod:`.hijack`).
"""
