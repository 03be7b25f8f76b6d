"""Prompt audio: every prompt of the flows as sound, for each telephony backend's format.

`prompts` lists what is said (flow, node, kind, language, text); `recorded` finds a province's own
recordings; `engines` synthesises (gTTS online, espeak-ng offline); `convert` turns any source into
a backend's format with sox; `cache` names and stores the results; `render` ties them together
(`Renderer.playable` is what the call backends use); `build` renders whole flows; `check` lists
what `robocall flows check` warns about.  Nothing here imports a backend.
"""

from robocall.audio.prompts import Prompt, fieldless, prompts_of
from robocall.audio.render import Outcome, Renderer

__all__ = ["Outcome", "Prompt", "Renderer", "fieldless", "prompts_of"]
