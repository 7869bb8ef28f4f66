// Mnemo's web app: small enhancements over pages that work without this script.
// Live job progress, uploads of many files, streamed answers, scrolling to a passage.
"use strict";
(function () {
  document.documentElement.classList.add("js");
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const headers = { "X-CSRF-Token": csrf, "X-Requested-With": "fetch" };

  function html(text) {
    const t = document.createElement("template");
    t.innerHTML = text; // server-rendered and escaped by the server's templates
    return t.content;
  }

  document.querySelectorAll("select[data-autosubmit]").forEach((select) => {
    select.addEventListener("change", () => select.form.submit());
  });

  document.addEventListener("submit", (event) => {
    const message = event.target.dataset && event.target.dataset.confirm;
    if (message && !window.confirm(message)) event.preventDefault();
  });

  // Jobs: poll while any is queued or running, replacing the list in place.
  function poll() {
    const jobs = document.getElementById("jobs");
    if (!jobs || !jobs.dataset.poll) return;
    setTimeout(async () => {
      try {
        const response = await fetch(jobs.dataset.poll, { headers });
        if (response.ok) {
          const current = document.getElementById("jobs");
          const open = [...current.querySelectorAll("details[open]")].length > 0;
          current.replaceWith(html(await response.text()));
          if (open) document.querySelectorAll("#jobs details").forEach((d) => (d.open = true));
        }
      } catch (e) { /* the server may be restarting; try again */ }
      poll();
    }, 1000);
  }
  async function refreshJobs(url) {
    const jobs = document.getElementById("jobs");
    if (!jobs) return;
    const response = await fetch(url, { headers });
    if (response.ok) {
      document.getElementById("jobs").replaceWith(html(await response.text()));
      poll();
    }
  }
  poll();

  // Uploads: one request per file, so each gets the server's size limit and its own message.
  const upload = document.getElementById("upload");
  if (upload) {
    const input = upload.querySelector('input[type="file"]');
    const collection = upload.querySelector('input[name="c"]').value;
    const messages = document.getElementById("messages");
    upload.addEventListener("submit", async (event) => {
      event.preventDefault();
      const button = upload.querySelector("button");
      button.disabled = true;
      messages.replaceChildren();
      for (const file of input.files) {
        const body = new FormData();
        body.append("csrf", csrf);
        body.append("c", collection);
        body.append("files", file, file.name);
        try {
          const response = await fetch(upload.action, { method: "POST", body, headers });
          messages.append(html(await response.text()));
        } catch (e) {
          const p = document.createElement("p");
          p.className = "msg error";
          p.textContent = file.name + ": the upload failed (" + e + ")";
          messages.append(p);
        }
      }
      input.value = "";
      button.disabled = false;
      refreshJobs("/ui/jobs?c=" + encodeURIComponent(collection));
    });
    ["dragenter", "dragover"].forEach((name) => upload.addEventListener(name, (event) => {
      event.preventDefault();
      upload.classList.add("dragging");
    }));
    ["dragleave", "drop"].forEach((name) => upload.addEventListener(name, () => {
      upload.classList.remove("dragging");
    }));
    upload.addEventListener("drop", (event) => {
      event.preventDefault();
      input.files = event.dataTransfer.files;
      upload.requestSubmit();
    });
  }

  // A conversation the first answer started: at the top of the list, as the current one.
  function listConversation(data, question) {
    const list = document.querySelector(".conversations ul");
    if (!list) return;
    list.querySelectorAll("li").forEach((li) => {
      if (!li.querySelector("a")) li.remove(); // "None yet."
      li.classList.remove("current");
    });
    const item = document.createElement("li");
    item.className = "current";
    const link = document.createElement("a");
    link.href = data.link;
    link.setAttribute("aria-current", "page");
    link.textContent = question.slice(0, 80);
    item.append(link);
    list.prepend(item);
  }

  // Chat: stream the answer's tokens as text, then show the checked answer.
  const ask = document.getElementById("ask");
  if (ask) {
    ask.addEventListener("submit", async (event) => {
      event.preventDefault();
      const body = new FormData(ask);
      const question = body.get("question");
      const turns = document.getElementById("turns");
      const turn = document.createElement("article");
      turn.className = "turn streaming";
      const q = document.createElement("p");
      q.className = "question";
      q.textContent = question;
      const answer = document.createElement("div");
      answer.className = "answer";
      answer.setAttribute("aria-busy", "true");
      turn.append(q, answer);
      turns.append(turn);
      ask.querySelector("button").disabled = true;
      ask.querySelector("textarea").value = "";
      try {
        const response = await fetch(ask.action, {
          method: "POST", body, headers: { ...headers, Accept: "text/event-stream" },
        });
        if (!response.ok || !response.body) {
          turn.replaceWith(html(await response.text()));
          return;
        }
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += value;
          let end;
          while ((end = buffer.indexOf("\n\n")) >= 0) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            const kind = (block.match(/^event: (.*)$/m) || [])[1];
            const data = JSON.parse((block.match(/^data: (.*)$/m) || [, "{}"])[1]);
            if (kind === "token") answer.append(document.createTextNode(data.text));
            else if (kind === "answer" || kind === "error") {
              turn.replaceWith(html(data.html));
              if (data.conversation) {
                const known = ask.querySelector('input[name="conv"]');
                if (known.value !== data.conversation) listConversation(data, question);
                known.value = data.conversation;
                history.replaceState(null, "", data.link);
              }
            }
          }
        }
      } finally {
        ask.querySelector("button").disabled = false;
      }
    });
  }

  // Asking by voice: record, have the server's transcription engine hear it, put the
  // text in the question box to be checked. Only where the browser can record
  // (a secure context: https, or http://127.0.0.1 and localhost).
  const voice = document.querySelector(".voice[data-transcribe]");
  if (voice && navigator.mediaDevices && window.MediaRecorder) {
    voice.hidden = false;
    const button = document.getElementById("record");
    const status = document.getElementById("voice-status");
    const box = document.getElementById("question");
    let recorder = null;
    let chunks = [];
    button.addEventListener("click", async () => {
      if (recorder && recorder.state === "recording") {
        recorder.stop();
        return;
      }
      let stream;
      try {
        stream = await navigator.mediaDevices.getUserMedia({ audio: true });
      } catch (error) {
        status.textContent = "The microphone is not available: " + error.message;
        return;
      }
      chunks = [];
      recorder = new MediaRecorder(stream);
      recorder.addEventListener("dataavailable", (event) => chunks.push(event.data));
      recorder.addEventListener("stop", async () => {
        stream.getTracks().forEach((track) => track.stop());
        button.setAttribute("aria-pressed", "false");
        button.textContent = "Ask by voice";
        status.textContent = "Listening to the recording…";
        const type = recorder.mimeType || "audio/webm";
        const body = new FormData();
        body.append("csrf", csrf);
        body.append("audio", new Blob(chunks, { type }), type.includes("ogg") ? "question.ogg" : "question.webm");
        const response = await fetch(voice.dataset.transcribe, { method: "POST", body, headers });
        if (response.ok) {
          box.value = (await response.json()).text;
          box.focus();
          status.textContent = "Heard. Correct the text if needed, then Ask.";
        } else {  // the error as a message fragment: say it as text
          const said = html(await response.text()).textContent.trim();
          status.textContent = said || "The recording could not be heard.";
        }
      });
      recorder.start();
      button.setAttribute("aria-pressed", "true");
      button.textContent = "Stop recording";
      status.textContent = "Recording… press Stop recording when you are done.";
    });
  }

  // Answers read aloud by the browser's own speech synthesis; [1] is read "source one".
  const NUMBERS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight",
    "nine", "ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen",
    "seventeen", "eighteen", "nineteen", "twenty"];
  function spoken(answer) {
    const copy = answer.cloneNode(true);
    copy.querySelectorAll(".chip").forEach((chip) => {
      const number = Number((chip.textContent.match(/\[(\d+)\]/) || [])[1]);
      chip.replaceWith(` (source ${NUMBERS[number] || number})`);
    });
    return copy.textContent.replace(/\s+/g, " ").trim();
  }
  if (window.speechSynthesis && window.SpeechSynthesisUtterance) {
    const reveal = (root) => root.querySelectorAll(".turn .speak").forEach((b) => { b.hidden = false; });
    reveal(document);
    const turns = document.getElementById("turns");
    if (turns) new MutationObserver(() => reveal(turns)).observe(turns, { childList: true, subtree: true });
    document.addEventListener("click", (event) => {
      const button = event.target.closest(".turn .speak");
      if (!button) return;
      window.speechSynthesis.cancel();
      const answer = button.closest(".turn").querySelector(".answer");
      window.speechSynthesis.speak(new SpeechSynthesisUtterance(spoken(answer)));
    });
  }

  // Viewer: bring the cited passage into view.
  const cited = document.getElementById("cited");
  if (cited) {
    cited.scrollIntoView({ block: "center" });
    if (cited.tabIndex === -1) cited.focus({ preventScroll: true });
  }
})();
