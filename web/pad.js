// The drawing pad: strokes on a canvas -> the 28 x 28 frame made by the
// preprocessing library -> the int8 network, all inside the WebAssembly
// module (edgemlp.js). The default model comes from model.js (base64, so
// that file:// needs no fetch); another blob can be picked or dropped.
// window.edgemlpPad.state holds what the page shows, for tests.
'use strict';

(function () {
  const $ = (id) => document.getElementById(id);
  const pad = $('pad');
  const ink = pad.getContext('2d', { willReadFrequently: true });
  const frameCanvas = $('frame');
  const frameCtx = frameCanvas.getContext('2d');
  const kFrameSide = 28;
  const kFrameBytes = kFrameSide * kFrameSide;
  const state = { ready: false, error: '', model: '', target: '', digit: null,
                  probabilities: [], latency_us: null, ink: 0, updates: 0 };
  window.edgemlpPad = { state };

  function showMessage(text, isError) {
    $('message').textContent = text;
    $('message').className = isError ? 'error' : '';
    if (isError) state.error = text;
  }

  function clearPad() {
    ink.fillStyle = '#fff';
    ink.fillRect(0, 0, pad.width, pad.height);
  }

  let mod = null;
  let net = 0;
  let buffers = null;  // heap pointers, allocated once

  function allocate() {
    const pixels = pad.width * pad.height;
    buffers = {
      rgba: mod._malloc(4 * pixels),
      gray: mod._malloc(pixels),
      frame: mod._malloc(kFrameBytes),
      logits: mod._malloc(4 * 1024),
      classes: mod._malloc(16),
      probs: mod._malloc(4 * 1024),
    };
  }

  function buildBars(count) {
    const bars = $('bars');
    bars.textContent = '';
    for (let c = 0; c < count; ++c) {
      const label = document.createElement('span');
      label.textContent = c;
      const bar = document.createElement('div');
      bar.className = 'bar';
      bar.id = 'bar-' + c;
      bar.appendChild(document.createElement('span'));
      const value = document.createElement('span');
      value.id = 'p-' + c;
      value.textContent = '';
      bars.append(label, bar, value);
    }
  }

  // Loads blob bytes; on failure keeps the current network and shows the
  // loader's message (the same text the CLI prints).
  function loadBlob(bytes, name) {
    const ptr = mod._malloc(Math.max(1, bytes.length));
    mod.HEAPU8.set(bytes, ptr);
    const loaded = mod._web_load(ptr, bytes.length);
    mod._free(ptr);
    if (!loaded) {
      showMessage(name + ': ' + mod.UTF8ToString(mod._web_error()), true);
      return false;
    }
    if (mod._web_input_size(loaded) !== kFrameBytes || mod._web_output_size(loaded) > 256) {
      showMessage(name + ': the model takes ' + mod._web_input_size(loaded) +
                  ' inputs; the pad makes 28 x 28 frames (784)', true);
      mod._web_free(loaded);
      return false;
    }
    if (net) mod._web_free(net);
    net = loaded;
    // Warm up, so that the first latency shown is that of optimized code
    // (engines compile WebAssembly in tiers).
    mod.HEAPU8.fill(0, buffers.frame, buffers.frame + kFrameBytes);
    mod._web_time_batch1(net, buffers.frame, 1, 0, 2000, 0, buffers.logits);
    state.model = name;
    state.error = '';
    $('model').textContent = name + ' (' + bytes.length + ' bytes)';
    buildBars(mod._web_output_size(net));
    showMessage('Loaded ' + name + '.', false);
    update();
    return true;
  }

  function drawFrame(frame) {
    const image = frameCtx.createImageData(kFrameSide, kFrameSide);
    for (let i = 0; i < kFrameBytes; ++i) {
      image.data[4 * i] = image.data[4 * i + 1] = image.data[4 * i + 2] = frame[i];
      image.data[4 * i + 3] = 255;
    }
    frameCtx.putImageData(image, 0, 0);
  }

  // Preprocess the pad, predict, time the forward pass, show it all.
  function update() {
    if (!net) return;
    const pixels = ink.getImageData(0, 0, pad.width, pad.height).data;
    mod.HEAPU8.set(pixels, buffers.rgba);
    state.ink = mod._web_frame_from_rgba(buffers.rgba, pad.width, pad.height, buffers.gray,
                                         buffers.frame);
    drawFrame(mod.HEAPU8.subarray(buffers.frame, buffers.frame + kFrameBytes));
    state.updates += 1;
    const outputs = mod._web_output_size(net);
    if (state.ink === 0) {
      state.digit = null;
      state.probabilities = [];
      $('digit').textContent = '\u2013';
      for (let c = 0; c < outputs; ++c) {
        $('bar-' + c).firstChild.style.width = '0';
        $('bar-' + c).className = 'bar';
        $('p-' + c).textContent = '';
      }
      return;
    }
    mod._web_predict_each(net, buffers.frame, 1, 0, buffers.logits, buffers.classes);
    mod._web_softmax(net, buffers.logits, buffers.probs);
    const digit = mod.HEAPU8[buffers.classes];
    const probs = Array.from(mod.HEAPF32.subarray(buffers.probs >> 2, (buffers.probs >> 2) + outputs));
    // The mean of a block of calls: browsers coarsen performance.now().
    const reps = 200;
    const ms = mod._web_time_batch1(net, buffers.frame, 1, 0, reps, 0, buffers.logits);
    state.digit = digit;
    state.probabilities = probs;
    state.latency_us = 1000 * ms / reps;
    $('digit').textContent = digit;
    probs.forEach((p, c) => {
      $('bar-' + c).firstChild.style.width = (100 * p).toFixed(1) + '%';
      $('bar-' + c).className = c === digit ? 'bar top' : 'bar';
      $('p-' + c).textContent = (100 * p).toFixed(1) + '%';
    });
    $('latency').textContent = state.latency_us.toFixed(2) + ' \u00b5s (mean of ' + reps + ' calls)';
  }

  let pending = false;
  function scheduleUpdate() {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => {
      pending = false;
      update();
    });
  }

  // Strokes: pointer events cover mouse, pen and touch.
  let last = null;
  function point(e) {
    const r = pad.getBoundingClientRect();
    return { x: (e.clientX - r.left) * pad.width / r.width,
             y: (e.clientY - r.top) * pad.height / r.height };
  }
  function stroke(from, to) {
    ink.strokeStyle = '#000';
    ink.lineWidth = 20;
    ink.lineCap = 'round';
    ink.lineJoin = 'round';
    ink.beginPath();
    ink.moveTo(from.x, from.y);
    ink.lineTo(to.x, to.y);
    ink.stroke();
  }
  pad.addEventListener('pointerdown', (e) => {
    pad.setPointerCapture(e.pointerId);
    last = point(e);
    stroke(last, last);
    scheduleUpdate();
  });
  pad.addEventListener('pointermove', (e) => {
    if (!last) return;
    const p = point(e);
    stroke(last, p);
    last = p;
    scheduleUpdate();
  });
  const end = () => {
    if (!last) return;
    last = null;
    update();
  };
  pad.addEventListener('pointerup', end);
  pad.addEventListener('pointercancel', end);
  $('clear').addEventListener('click', () => {
    clearPad();
    update();
  });

  // Another blob: the file picker or a drop anywhere on the page.
  function loadFile(file) {
    if (!mod) return;  // the module has not started (yet)
    file.arrayBuffer().then((buffer) => loadBlob(new Uint8Array(buffer), file.name),
                            (err) => showMessage(file.name + ': cannot read (' + err + ')', true));
  }
  $('blob-file').addEventListener('change', (e) => {
    if (e.target.files.length) loadFile(e.target.files[0]);
  });
  document.addEventListener('dragover', (e) => {
    e.preventDefault();
    $('drop').classList.add('dragging');
  });
  document.addEventListener('dragleave', () => $('drop').classList.remove('dragging'));
  document.addEventListener('drop', (e) => {
    e.preventDefault();
    $('drop').classList.remove('dragging');
    if (e.dataTransfer.files.length) loadFile(e.dataTransfer.files[0]);
  });

  clearPad();
  if (typeof createEdgemlp !== 'function') {
    showMessage('edgemlp.js did not load: build the pad with tools/build-web.sh', true);
    return;
  }
  createEdgemlp().then((m) => {
    mod = m;
    allocate();
    state.target = mod.UTF8ToString(mod._web_target());
    $('target').textContent = state.target + ' (WebAssembly SIMD128 via Highway)';
    const model = window.EDGEMLP_DEFAULT_MODEL;
    if (model) {
      const bytes = Uint8Array.from(atob(model.base64), (c) => c.charCodeAt(0));
      loadBlob(bytes, model.name);
    } else {
      showMessage('No default model (model.js): load a blob below.', true);
    }
    state.ready = true;
  }, (err) => {
    // A browser without WebAssembly SIMD cannot compile the module.
    showMessage('The WebAssembly module did not start (' + err + '); this page needs ' +
                'WebAssembly SIMD (Chrome 91, Firefox 89, Safari 16.4 or later).', true);
  });
})();
