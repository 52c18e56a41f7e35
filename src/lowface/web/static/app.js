// lowface web app: upload, watch the job, compare before / after with a split and zoom, download.
"use strict";
const $ = (id) => document.getElementById(id);
let chosen = [];   // File objects
let current = null; // the job shown

async function init() {
  const info = await (await fetch("/api/models")).json();
  for (const name of info.models) {
    const option = new Option(name, name, name === info.default, name === info.default);
    option.title = info.summaries[name];  // what the model is, one line
    $("model").add(option);
  }
  for (const name of info.detectors) $("detector").add(new Option(name, name));
  $("files").addEventListener("change", () => choose([...$("files").files]));
  const drop = $("drop");
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => { e.preventDefault(); drop.classList.remove("over"); choose([...e.dataTransfer.files]); });
  $("go").addEventListener("click", submit);
  $("cancel").addEventListener("click", () => current && fetch(`/api/jobs/${current}/cancel`, { method: "POST" }));
  $("strength").addEventListener("input", () => { $("strength-value").value = Number($("strength").value).toFixed(2); });
  $("strength").addEventListener("change", () => current && rerun());
  $("denoise").addEventListener("input", () => { $("denoise-value").value = Number($("denoise").value).toFixed(2); });
  $("denoise").addEventListener("change", () => current && rerun());
  $("temporal").addEventListener("change", () => current && rerun());
  document.body.dataset.ready = "1";
}

function choose(files) {
  chosen = files;
  $("go").disabled = !files.length;
  $("status").textContent = files.length ? `${files.length} file(s) chosen` : "";
}

async function submit() {
  const form = new FormData();
  for (const file of chosen) form.append("files", file, file.name);
  form.append("model", $("model").value);
  form.append("strength", $("strength").value);
  form.append("denoise", $("denoise").value);
  form.append("temporal", $("temporal").checked ? "8" : "0");
  form.append("detector", $("detector").value);
  await start(fetch("/api/jobs", { method: "POST", body: form }));
}

async function rerun() {
  const body = JSON.stringify({ strength: Number($("strength").value), denoise: Number($("denoise").value),
                                temporal: $("temporal").checked ? 8 : 0, model: $("model").value,
                                detector: $("detector").value });
  await start(fetch(`/api/jobs/${current}/rerun`, { method: "POST", body }));
}

async function start(request) {
  $("error").textContent = "";
  const response = await request;
  const job = await response.json();
  if (!response.ok) { $("error").textContent = job.error; document.body.dataset.state = "error"; return; }
  const previous = current;
  current = job.id;
  if (previous) fetch(`/api/jobs/${previous}`, { method: "DELETE" });
  document.body.dataset.state = "running";
  $("cancel").hidden = false;
  $("progress").hidden = false;
  watch(job.id);
}

async function watch(id) {
  const job = await (await fetch(`/api/jobs/${id}`)).json();
  if (id !== current) return;
  $("progress").max = job.total;
  $("progress").value = job.done;
  $("status").textContent = `${job.status}: ${job.done} of ${job.total}`;
  if (job.status === "queued" || job.status === "running") { setTimeout(() => watch(id), 300); return; }
  $("cancel").hidden = true;
  show(job);
  document.body.dataset.state = job.status;
}

function show(job) {
  const results = $("results");
  results.replaceChildren();
  const errors = job.results.filter((r) => r.error).map((r) => r.error);
  if (job.error) errors.push(job.error);
  $("error").textContent = errors.join("\n");
  for (const entry of job.results) {
    if (entry.error) continue;
    const base = `/api/jobs/${job.id}/files/${entry.number}`;
    const block = document.createElement("div");
    block.className = "result";
    const title = document.createElement("h3");
    const routes = Object.entries(entry.routes || {}).map(([k, v]) => `${k}`).join(", ");
    title.textContent = `${entry.name}` + (entry.made === "copied" ? " - well exposed, returned unchanged" : "") + (routes ? ` (${routes})` : "");
    block.append(title);
    if (entry.notes && entry.notes.length) {
      const notes = document.createElement("p");
      notes.className = "notes";
      notes.textContent = entry.notes.join("; ");
      block.append(notes);
    }
    if (!entry.video) block.append(compare(base, entry));
    else {
      const player = document.createElement("video");
      Object.assign(player, { controls: true, muted: true, src: `${base}/result`, className: "player" });
      player.id = `video-${entry.number}`;
      block.append(player);
    }
    const link = document.createElement("a");
    link.href = `${base}/result`;
    link.className = "download";
    link.textContent = "Download";
    link.download = "";
    block.append(link);
    results.append(block);
  }
  const zip = $("zip");
  zip.href = `/api/jobs/${job.id}/zip`;
  zip.hidden = job.results.filter((r) => r.file).length < 2;
  const sim = job.similarity;
  $("similarity").textContent = sim ? Object.entries(sim).map(([name, s]) => s.error ? `${name}: unavailable` : `${name} similarity: ${s.before} before, ${s.after} after`).join("; ") : "";
}

function compare(base, entry) {
  const box = document.createElement("div");
  box.className = "compare";
  const stage = document.createElement("div");
  stage.className = "stage";
  const before = new Image();
  before.src = `${base}/before`;
  before.className = "before";
  const after = new Image();
  after.src = `${base}/after`;
  after.className = "after";
  after.id = `result-${entry.number}`;
  stage.append(before, after);
  const [height, width] = entry.size;
  const addBoxes = (boxes, kind) => (boxes || []).forEach(([x1, y1, x2, y2]) => {
    const div = document.createElement("div");
    div.className = `box ${kind}-box`;
    Object.assign(div.style, { left: `${100 * x1 / width}%`, top: `${100 * y1 / height}%`, width: `${100 * (x2 - x1) / width}%`, height: `${100 * (y2 - y1) / height}%` });
    stage.append(div);
  });
  addBoxes(entry.faces_before, "before");
  addBoxes(entry.faces_after, "after");
  const split = document.createElement("input");
  Object.assign(split, { type: "range", min: 0, max: 100, value: 50, className: "split" });
  const clip = () => { after.style.clipPath = `inset(0 0 0 ${split.value}%)`; };
  split.addEventListener("input", clip);
  clip();
  let zoom = 1;
  box.addEventListener("wheel", (e) => {
    e.preventDefault();
    zoom = Math.min(8, Math.max(1, zoom * (e.deltaY < 0 ? 1.25 : 0.8)));
    const rect = box.getBoundingClientRect();
    stage.style.transformOrigin = `${e.clientX - rect.left}px ${e.clientY - rect.top}px`;
    stage.style.transform = `scale(${zoom})`;
  });
  box.append(stage);
  const wrapper = document.createElement("div");
  wrapper.className = "compare-wrap";
  wrapper.append(box, split);
  return wrapper;
}

init();
