/* 报警提示音 / alarm tones, synthesised with WebAudio: no sound files to ship or fetch.
 *
 * One pattern per severity, so a guard can tell a fire alarm from a minor fault without
 * looking: critical is a fast two-tone siren, major two firm beeps, minor one soft beep.
 * Browsers only let a page make sound after a user gesture, so nothing plays until enable()
 * is called from a click (the board's "点击启用声音 / click to enable sound" control).
 */
"use strict";

window.GuardSounds = (() => {
  // [frequency Hz, start s, duration s] per note; waveform and loudness per severity.
  const PATTERNS = {
    critical: { wave: "square", gain: 0.22, notes: [
      [960, 0.0, 0.18], [700, 0.2, 0.18], [960, 0.4, 0.18], [700, 0.6, 0.18],
      [960, 0.8, 0.18], [700, 1.0, 0.18], [960, 1.2, 0.18], [700, 1.4, 0.18]] },
    major: { wave: "sawtooth", gain: 0.16, notes: [[740, 0.0, 0.28], [740, 0.45, 0.28]] },
    minor: { wave: "sine", gain: 0.25, notes: [[520, 0.0, 0.35]] },
    info: { wave: "sine", gain: 0.15, notes: [[880, 0.0, 0.12]] },
  };

  let ctx = null;
  let enabled = false;
  const played = [];  // the last severities played, newest last (shown nowhere; for checks)

  function note(freq, at, dur, wave, gain) {
    const osc = ctx.createOscillator();
    const amp = ctx.createGain();
    osc.type = wave;
    osc.frequency.value = freq;
    // Short ramps: no clicks at the start and end of each note.
    amp.gain.setValueAtTime(0, at);
    amp.gain.linearRampToValueAtTime(gain, at + 0.01);
    amp.gain.setValueAtTime(gain, at + dur - 0.02);
    amp.gain.linearRampToValueAtTime(0, at + dur);
    osc.connect(amp).connect(ctx.destination);
    osc.start(at);
    osc.stop(at + dur + 0.01);
  }

  /** Play a severity's pattern; false when sound is off or the browser has not allowed it. */
  function play(severity) {
    if (!enabled || ctx === null || ctx.state !== "running") return false;
    const pattern = PATTERNS[severity] || PATTERNS.info;
    const t0 = ctx.currentTime + 0.02;
    for (const [freq, start, dur] of pattern.notes) {
      note(freq, t0 + start, dur, pattern.wave, pattern.gain);
    }
    played.push(severity);
    if (played.length > 50) played.shift();
    return true;
  }

  /** Call from a click: creates or resumes the audio context and plays a short test beep. */
  async function enable() {
    const Ctx = window.AudioContext || window.webkitAudioContext;
    if (!Ctx) return false;
    if (ctx === null) ctx = new Ctx();
    if (ctx.state !== "running") await ctx.resume();
    enabled = ctx.state === "running";
    if (enabled) play("info");
    return enabled;
  }

  function disable() { enabled = false; }

  return {
    enable, disable, play, played,
    get enabled() { return enabled && ctx !== null && ctx.state === "running"; },
  };
})();
