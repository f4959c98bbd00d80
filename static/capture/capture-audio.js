// Capture audio: microphone (+ optional call audio from a shared tab) -> the
// AudioWorklet (pcm-worklet.js). Knows nothing of the socket: it hands
// finished 200 ms frames and meter levels to the callbacks it is given, so
// capture-client.js can be tested in node with no audio stack at all.

/**
 * Can this browser give us another tab's audio? Asked without any prompt.
 * Returns { ok: true } or { ok: false, reason } in words for the page.
 */
export function tabAudioSupport(nav = globalThis.navigator) {
  const md = nav && nav.mediaDevices;
  const mobile = nav && (nav.userAgentData ? nav.userAgentData.mobile : /Android|iPhone|iPad|Mobile/i.test(nav.userAgent || ""));
  if (mobile) {
    return { ok: false, reason: "Phones and tablets can't share a call's sound with a web page. Recording with the microphone works well here." };
  }
  // Only Chromium browsers (Chrome, Edge) hand a tab's sound to getDisplayMedia.
  // They are also the only ones that know this constraint, so it doubles as a
  // test that needs no permission prompt.
  const constraints = md && md.getSupportedConstraints ? md.getSupportedConstraints() : {};
  if (!md || !md.getDisplayMedia || !constraints.suppressLocalAudioPlayback) {
    return { ok: false, reason: "This browser can share a tab's picture but not its sound. To record the call's audio, open this page in Chrome or Edge on a computer." };
  }
  return { ok: true };
}

/** Can this browser record at all (secure page, microphone API, AudioWorklet)? */
export function captureSupported() {
  return Boolean(globalThis.isSecureContext && navigator.mediaDevices && navigator.mediaDevices.getUserMedia && globalThis.AudioWorkletNode);
}

export class CaptureError extends Error {}

const MIC_CONSTRAINTS = {
  audio: {
    channelCount: 1,
    // Browser speech processing helps a laptop or phone microphone (a call
    // playing through speakers, a quiet voice across the room).
    echoCancellation: true,
    noiseSuppression: true,
    autoGainControl: true,
  },
};

const DISPLAY_CONSTRAINTS = {
  // Chrome requires video to share a tab; we stop the video track at once.
  video: { displaySurface: "browser" },
  audio: {
    // The call's audio is already clean: microphone processing would only damage it.
    echoCancellation: false,
    noiseSuppression: false,
    autoGainControl: false,
    // The person must still hear their therapist.
    suppressLocalAudioPlayback: false,
  },
  preferCurrentTab: false,
  selfBrowserSurface: "exclude",
  surfaceSwitching: "include",
  systemAudio: "include",
};

function micError(err) {
  if (err && err.name === "NotAllowedError") return "Microphone access was turned down. Allow the microphone for this site in your browser's settings, then try again.";
  if (err && err.name === "NotFoundError") return "We couldn't find a microphone. Connect one, then try again.";
  if (err && err.name === "NotReadableError") return "Another app is using the microphone. Close it, then try again.";
  return "We couldn't open the microphone. Please try again.";
}

/**
 * Builds the audio graph. Must be called straight from the click handler:
 * the AudioContext and the tab picker are only allowed during a user gesture,
 * so both are started before the first await.
 *
 * onFrame(ch, buf)   a 200 ms PCM16 frame (6400 bytes), in order per channel
 * onLevel({ch, rms, peak})   about 10 per second per channel, for the meters
 * onNotice(message)   the shared tab's sound went away mid-recording
 */
export async function openAudio(wantTab, { onFrame, onLevel, onNotice }) {
  // Native rate, never new AudioContext({sampleRate: 16000}): Firefox refuses
  // to connect a microphone running at another rate, and the browser's own
  // resampling gives no control over aliasing. pcm-worklet.js resamples.
  const ctx = new AudioContext({ latencyHint: "playback" });
  const resumed = ctx.resume();
  // The picker first, while the click still counts as a gesture; the
  // microphone prompt does not need one.
  const displayPromise = wantTab ? navigator.mediaDevices.getDisplayMedia(DISPLAY_CONSTRAINTS).catch((e) => e) : null;

  const streams = [];
  let notice = "";
  let callAudio = null;
  const stopAll = () => streams.forEach((s) => s.getTracks().forEach((t) => t.stop()));
  const watchEnded = (track) =>
    track.addEventListener("ended", () => {
      // A track we replaced ourselves (the tab shared again) ends without a notice.
      if (!track.replaced) onNotice("The call's audio is no longer shared. Your microphone is still recording.");
    });
  try {
    if (wantTab) {
      const display = await displayPromise;
      if (display instanceof Error) {
        notice = "No tab was shared, so we are recording your microphone only.";
      } else {
        streams.push(display);
        display.getVideoTracks().forEach((t) => t.stop()); // we only want the sound
        const tracks = display.getAudioTracks();
        if (tracks.length) {
          callAudio = new MediaStream(tracks);
          watchEnded(tracks[0]);
        } else {
          notice = "The shared tab came without its sound (the “Share tab audio” switch was off), so we are recording your microphone only. To include the call, stop and start again.";
        }
      }
    }
    let mic;
    try {
      mic = await navigator.mediaDevices.getUserMedia(MIC_CONSTRAINTS);
    } catch (err) {
      throw new CaptureError(micError(err));
    }
    streams.push(mic);

    await ctx.audioWorklet.addModule(new URL("./pcm-worklet.js", import.meta.url));
    const channels = callAudio ? [0, 1] : [0];
    // No outputs: nothing is played back; a node without outputs is still
    // pulled by the graph, so it runs without touching the speakers.
    const node = new AudioWorkletNode(ctx, "pcm-capture", {
      numberOfInputs: channels.length,
      numberOfOutputs: 0,
      processorOptions: { channels },
    });
    node.port.onmessage = ({ data: msg }) => {
      if (msg.type === "frame") onFrame(msg.ch, msg.buf);
      else if (msg.type === "level") onLevel({ ch: msg.ch, rms: msg.rms, peak: msg.peak });
    };
    const sources = [ctx.createMediaStreamSource(mic), callAudio ? ctx.createMediaStreamSource(callAudio) : null];
    const inputs = [mic, callAudio];
    sources[0].connect(node, 0, 0);
    if (sources[1]) sources[1].connect(node, 0, 1);
    await resumed;

    // A new source on the same channel, without ending the session: the
    // worklet keeps numbering frames, so the recording simply goes on.
    const swap = (ch, stream) => {
      const source = ctx.createMediaStreamSource(stream);
      source.connect(node, 0, ch);
      if (sources[ch]) sources[ch].disconnect();
      if (inputs[ch]) {
        for (const t of inputs[ch].getTracks()) {
          t.replaced = true;
          t.stop();
        }
      }
      sources[ch] = source;
      inputs[ch] = stream;
      streams.push(stream);
    };

    let flushed = null;
    return {
      channels,
      notice,
      /** Asks for the call's tab again (from a click) and records it on channel 1. */
      async shareTabAgain() {
        if (!channels.includes(1)) throw new CaptureError("This recording has no call audio to share again.");
        let display;
        try {
          display = await navigator.mediaDevices.getDisplayMedia(DISPLAY_CONSTRAINTS);
        } catch {
          throw new CaptureError("No tab was shared. Your microphone is still recording.");
        }
        display.getVideoTracks().forEach((t) => t.stop());
        const tracks = display.getAudioTracks();
        if (!tracks.length) {
          throw new CaptureError("That tab came without its sound. Share it again with “Share tab audio” switched on.");
        }
        watchEnded(tracks[0]);
        swap(1, new MediaStream(tracks));
      },
      /** Records channel 0 from another microphone. */
      async useMicrophone(deviceId) {
        let stream;
        try {
          stream = await navigator.mediaDevices.getUserMedia({ audio: { ...MIC_CONSTRAINTS.audio, deviceId: { exact: deviceId } } });
        } catch (err) {
          throw new CaptureError(micError(err));
        }
        swap(0, stream);
      },
      post: (msg) => node.port.postMessage(msg),
      // Resolves once the worklet has posted its last (zero-padded) frame.
      // The timeout covers a context the system suspended, which would never
      // answer; at most one partial frame (< 200 ms) is lost then.
      flush() {
        flushed = flushed || new Promise((resolve) => {
          const done = () => resolve();
          node.port.addEventListener("message", (e) => e.data.type === "flushed" && done());
          setTimeout(done, 2000);
          node.port.postMessage({ type: "flush" });
        });
        return flushed;
      },
      close() {
        stopAll();
        node.port.onmessage = null;
        ctx.close().catch(() => {});
      },
    };
  } catch (err) {
    stopAll();
    ctx.close().catch(() => {});
    throw err instanceof CaptureError ? err : new CaptureError("We couldn't start recording in this browser. Please reload the page and try again.");
  }
}
