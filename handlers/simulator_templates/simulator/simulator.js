// The keypad page: places a simulated call, sends keys and other-side events, speaks what is heard.
(function () {
  "use strict";
  const root = document.getElementById("simulator");
  const $ = (id) => document.getElementById(id);
  let state = null, gather = null, typed = "";
  window.spoken = [];  // every utterance queued, in order (also read by the browser tests)

  function speak(heard) {
    if (!heard.text) return;  // music and pauses are shown, not spoken
    window.spoken.push({ text: heard.text, lang: heard.lang });
    if (!$("speak").checked || !window.speechSynthesis) return;
    const utterance = new SpeechSynthesisUtterance(heard.text);
    if (heard.lang) utterance.lang = heard.lang;
    window.speechSynthesis.speak(utterance);
  }

  function showStep(step) {
    const item = document.createElement("li");
    item.className = "step";
    const what = Object.entries(step.form).map(([k, v]) => k + "=" + v).join(" ");
    const title = document.createElement("div");
    title.className = "request";
    title.textContent = "POST /" + step.path + (what ? " " + what : "") + " → " + step.status;
    item.appendChild(title);
    const heardList = document.createElement("ul");
    for (const heard of step.heard) {
      const line = document.createElement("li");
      line.className = "heard";
      line.textContent = heard.play ? "[plays " + heard.play + "]" : (heard.lang ? "(" + heard.lang + ") " : "") + heard.text;
      heardList.appendChild(line);
      speak(heard);
    }
    item.appendChild(heardList);
    const details = document.createElement("details");
    const summary = document.createElement("summary");
    summary.textContent = "TwiML";
    const code = document.createElement("pre");
    code.className = "twiml";
    code.textContent = step.twiml;
    details.append(summary, code);
    item.appendChild(details);
    $("transcript").appendChild(item);
    item.scrollIntoView({ block: "nearest" });
  }

  function update(answer) {
    answer.steps.forEach(showStep);
    state = answer.state;
    gather = answer.gather;
    $("version").textContent = answer.version;
    $("place").textContent = answer.ended ? "call ended" + (answer.destinations.length ? " (reached " + answer.destinations.at(-1) + ")" : "")
      : "at " + answer.place;
    $("error").textContent = answer.error || "";
    const waiting = answer.ended ? "" : answer.waiting;
    document.querySelectorAll(".key").forEach((b) => { b.disabled = !waiting || waiting === "Record"; });
    $("silence").disabled = !(waiting === "Gather" || waiting === "Record");
    $("send").disabled = waiting !== "Gather";
    $("hangup").disabled = !waiting;
    document.querySelectorAll("#other-side button").forEach((b) => {
      b.disabled = !waiting || !b.dataset.when.split(" ").includes(waiting);
    });
    typed = "";
    $("typed").textContent = "";
  }

  async function post(url, body) {
    const response = await fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": root.dataset.csrf },
      body: JSON.stringify(body),
    });
    if (!response.ok) {
      $("error").textContent = (await response.text()).trim();
      return;
    }
    update(await response.json());
  }

  const send = (event) => post(root.dataset.stepUrl, { state: state, event: event });

  $("call").addEventListener("click", () => {
    $("transcript").textContent = "";
    if (window.speechSynthesis) window.speechSynthesis.cancel();
    post(root.dataset.callUrl, { from: $("from").value });
  });
  $("hangup").addEventListener("click", () => send("hangup"));
  $("silence").addEventListener("click", () => send("silence"));
  $("send").addEventListener("click", () => send(typed || "silence"));
  document.querySelectorAll(".key").forEach((button) => button.addEventListener("click", () => {
    const key = button.dataset.key;
    if (!gather) return send(key);  // in a queue: a key such as the leave key goes at once
    typed += key;
    $("typed").textContent = typed;
    const full = gather.num_digits && typed.length >= gather.num_digits;
    if (full || (gather.finish_on && key === gather.finish_on)) send(typed);
  }));
  document.querySelectorAll("#other-side button").forEach((button) =>
    button.addEventListener("click", () => send(button.dataset.event)));
})();
