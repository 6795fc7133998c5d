// fmccert console: the stand-in's Slack workspace rendered from the bot's real Block Kit.
// Every piece of data is put on the page with textContent / DOM nodes, never innerHTML.
"use strict";

(function () {
  const EMOJI = {
    rotating_light: "\u{1F6A8}", warning: "\u26A0\uFE0F", red_circle: "\u{1F534}",
    x: "\u274C", white_check_mark: "\u2705", hourglass_flowing_sand: "\u23F3",
    hourglass: "\u231B", gear: "\u2699\uFE0F", lock: "\u{1F512}", bell: "\u{1F514}",
    arrow_double_up: "\u23EB", alarm_clock: "\u23F0", bar_chart: "\u{1F4CA}",
    grey_question: "\u2754", large_green_circle: "\u{1F7E2}", fast_forward: "\u23E9",
    octagonal_sign: "\u{1F6D1}", no_entry: "\u26D4", scroll: "\u{1F4DC}",
    white_small_square: "\u25AB\uFE0F", large_yellow_circle: "\u{1F7E1}",
    information_source: "\u2139\uFE0F", mag: "\u{1F50D}", zzz: "\u{1F4A4}",
    calendar: "\u{1F4C5}", clock3: "\u{1F552}", heavy_check_mark: "\u2714\uFE0F",
  };

  const state = {
    user: null, revision: -1, data: null, users: new Map(), tab: "channel",
    poll: null, homeRequested: new Set(),
  };

  const $ = (id) => document.getElementById(id);

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  // --- mrkdwn -------------------------------------------------------------------------

  function decodeEntities(text) {
    return text.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
  }

  function userName(id) {
    if (state.data && state.data.bot && id === state.data.bot.id) return state.data.bot.name;
    const user = state.users.get(id);
    return user ? user.name : id;
  }

  // <@U123>, <@U123|name>, <#C1|name>, <!here>, <!subteam^S1|@team>, <https://x|label>
  function renderAngle(inner) {
    const [target, label] = splitOnce(inner, "|");
    if (target.startsWith("@")) return el("span", "mention", "@" + (label || userName(target.slice(1))));
    if (target.startsWith("#")) return el("span", "mention", "#" + (label || target.slice(1)));
    if (target.startsWith("!")) {
      const word = target.slice(1).split("^")[0];
      return el("span", "mention", label ? decodeEntities(label) : "@" + word);
    }
    const text = decodeEntities(label || target);
    if (/^https?:\/\//i.test(target)) {
      const a = el("a", null, text);
      a.href = decodeEntities(target);
      a.rel = "noopener noreferrer";
      a.target = "_blank";
      return a;
    }
    return document.createTextNode(text);
  }

  function splitOnce(text, sep) {
    const at = text.indexOf(sep);
    return at < 0 ? [text, ""] : [text.slice(0, at), text.slice(at + 1)];
  }

  const INLINE = /`([^`\n]+)`|\*([^*\n]+)\*|_([^_\n]+)_|~([^~\n]+)~|<([^<>\s][^<>]*)>|:([a-z0-9_+\-]+):/g;
  const WORD = /[A-Za-z0-9]/;

  function appendInline(parent, text) {
    let last = 0;
    INLINE.lastIndex = 0;
    let match;
    while ((match = INLINE.exec(text)) !== null) {
      const [whole, code, bold, italic, strike, angle, emoji] = match;
      const before = match.index > 0 ? text[match.index - 1] : "";
      const after = text[match.index + whole.length] || "";
      // Slack formats *x* and _x_ only at word boundaries (snake_case stays as is).
      const styled = bold !== undefined || italic !== undefined || strike !== undefined;
      if (styled && (WORD.test(before) || WORD.test(after))) continue;
      let node = null;
      if (code !== undefined) node = el("code", null, decodeEntities(code));
      else if (bold !== undefined) { node = el("b"); appendInline(node, bold); }
      else if (italic !== undefined) { node = el("i"); appendInline(node, italic); }
      else if (strike !== undefined) { node = el("s"); appendInline(node, strike); }
      else if (angle !== undefined) node = renderAngle(angle);
      else if (emoji !== undefined) {
        const char = EMOJI[emoji];
        if (!char) continue;
        node = el("span", "emoji", char);
        node.title = ":" + emoji + ":";
      }
      if (match.index > last) parent.append(decodeEntities(text.slice(last, match.index)));
      parent.append(node);
      last = match.index + whole.length;
      INLINE.lastIndex = last;
    }
    if (last < text.length) parent.append(decodeEntities(text.slice(last)));
  }

  function renderMrkdwn(text) {
    const root = el("div", "mrkdwn");
    const parts = String(text || "").split("```");
    parts.forEach((part, i) => {
      if (i % 2 === 1 && i < parts.length - 1) {
        root.append(el("pre", null, decodeEntities(part.replace(/^\n/, ""))));
      } else {
        appendInline(root, i % 2 === 1 ? "```" + part : part);
      }
    });
    return root;
  }

  // plain_text may hold :emoji: (emoji: true) but nothing else is formatted.
  function plainText(textObject) {
    const span = el("span");
    const text = textObject && typeof textObject.text === "string" ? textObject.text : "";
    let last = 0;
    const re = /:([a-z0-9_+\-]+):/g;
    let m;
    while ((m = re.exec(text)) !== null) {
      if (!EMOJI[m[1]]) continue;
      span.append(text.slice(last, m.index), EMOJI[m[1]]);
      last = m.index + m[0].length;
    }
    span.append(text.slice(last));
    return span;
  }

  function textNode(textObject) {
    if (textObject && textObject.type === "mrkdwn") return renderMrkdwn(textObject.text);
    return plainText(textObject);
  }

  // --- Block Kit ----------------------------------------------------------------------

  function renderBlocks(blocks, message) {
    const root = el("div", "blocks");
    for (const block of blocks || []) {
      try {
        root.append(renderBlock(block, message));
      } catch (err) {
        root.append(el("div", "block block-other", "[block could not be shown]"));
      }
    }
    return root;
  }

  function renderBlock(block, message) {
    switch (block && block.type) {
      case "header": {
        const node = el("div", "block block-header");
        node.append(plainText(block.text));
        return node;
      }
      case "section": {
        const node = el("div", "block block-section");
        const main = el("div", "section-main");
        if (block.text) main.append(textNode(block.text));
        if (Array.isArray(block.fields) && block.fields.length) {
          const grid = el("div", "fields");
          for (const field of block.fields) grid.append(textNode(field));
          main.append(grid);
        }
        node.append(main);
        if (block.accessory) node.append(renderElement(block.accessory, message));
        return node;
      }
      case "context": {
        const node = el("div", "block block-context");
        for (const item of block.elements || []) {
          if (item.type === "image") node.append(el("span", null, "[" + (item.alt_text || "image") + "]"));
          else node.append(textNode(item));
        }
        return node;
      }
      case "divider":
        return el("hr", "block block-divider");
      case "actions": {
        const node = el("div", "block block-actions");
        for (const item of block.elements || []) node.append(renderElement(item, message));
        return node;
      }
      case "image":
        return el("div", "block block-other", "[image: " + (block.alt_text || block.image_url || "") + "]");
      case "input": {
        const node = el("div", "block block-input");
        const label = el("label");
        label.append(plainText(block.label));
        node.append(label, renderElement(block.element || {}, message));
        return node;
      }
      default: {
        const node = el("div", "block block-other");
        node.append(block && block.text ? textNode(block.text) : document.createTextNode("[" + ((block && block.type) || "block") + "]"));
        return node;
      }
    }
  }

  function renderElement(item, message) {
    if (item.type === "button") {
      const button = el("button", "btn" + (item.style === "primary" || item.style === "danger" ? " " + item.style : ""));
      button.type = "button";
      button.append(plainText(item.text));
      if (item.action_id) button.dataset.actionId = item.action_id;
      if (message) {
        button.addEventListener("click", () => onButton(button, item, message));
      } else {
        button.disabled = true;
      }
      return button;
    }
    if (item.type === "static_select") {
      const select = el("select");
      for (const option of item.options || []) {
        const opt = el("option", null, option.text ? option.text.text : option.value);
        opt.value = option.value;
        if (item.initial_option && item.initial_option.value === option.value) opt.selected = true;
        select.append(opt);
      }
      return select;
    }
    if (item.type === "plain_text_input") {
      const input = el("input");
      input.type = "text";
      if (item.placeholder) input.placeholder = item.placeholder.text || "";
      return input;
    }
    return el("span", "block-other", "[" + (item.type || "element") + "]");
  }

  // --- Messages -----------------------------------------------------------------------

  // A Slack ts is the Unix time of the post ("1767225600.000100"): shown in local time,
  // with the date when it is not today, and the full date and time on hover.
  function tsDate(ts) {
    const seconds = parseInt(String(ts).split(".")[0], 10);
    return Number.isFinite(seconds) ? new Date(seconds * 1000) : null;
  }

  function formatTime(date) {
    const time = date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    if (date.toDateString() === new Date().toDateString()) return time;
    return date.toLocaleDateString([], { month: "short", day: "numeric" }) + ", " + time;
  }

  function timeNode(ts) {
    const date = tsDate(ts);
    const node = el("time", "msg-time", date ? formatTime(date) : "");
    if (date) {
      node.dateTime = date.toISOString();
      node.title = date.toLocaleString();
    }
    return node;
  }

  function renderMessage(message, extraClass) {
    const node = el("div", "msg" + (extraClass ? " " + extraClass : ""));
    node.dataset.ts = message.ts;
    const isBot = state.data && message.user === state.data.bot.id;
    const author = userName(message.user);
    const avatar = el("div", "avatar" + (isBot ? " bot" : ""), author.slice(0, 1).toUpperCase());
    const main = el("div", "msg-main");
    const head = el("div", "msg-head");
    head.append(el("span", "msg-author", author));
    if (isBot) head.append(el("span", "app-badge", "APP"));
    head.append(timeNode(message.ts));
    if (message.edited) head.append(el("span", "edited", "(edited)"));
    main.append(head);
    if (Array.isArray(message.blocks) && message.blocks.length) main.append(renderBlocks(message.blocks, message));
    else main.append(renderMrkdwn(message.text));
    if (message.ephemeral) main.append(el("div", "ephemeral-note", "Only visible to you"));
    node.append(avatar, main);
    return node;
  }

  function renderChannel(data) {
    const list = $("messages");
    const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    const items = [];
    const byTs = new Map();
    for (const message of data.messages) {
      const wrap = el("div", "thread");
      wrap.dataset.ts = message.ts;
      wrap.append(renderMessage(message, "parent"));
      const replies = el("div", "replies");
      for (const reply of message.replies) replies.append(renderMessage(reply, "reply"));
      byTs.set(message.ts, { wrap, replies, count: message.replies.length });
      items.push({ ts: message.ts, node: wrap });
    }
    for (const eph of data.ephemerals) {
      const node = renderMessage(eph, "ephemeral");
      const parent = eph.thread_ts && byTs.get(eph.thread_ts);
      if (parent) parent.replies.append(node);
      else items.push({ ts: eph.ts, node });
    }
    for (const { wrap, replies, count } of byTs.values()) {
      if (replies.childElementCount) {
        const label = count === 1 ? "1 reply" : count + " replies";
        wrap.append(el("div", "thread-summary", label), replies);
      }
    }
    items.sort((a, b) => parseFloat(a.ts) - parseFloat(b.ts));
    if (!items.length) {
      const empty = el("p", "empty muted", "No messages yet. Try ");
      empty.append(el("code", null, "/fmccert scan"), " below.");
      list.replaceChildren(empty);
    } else {
      list.replaceChildren(...items.map((i) => i.node));
    }
    if (atBottom) list.scrollTop = list.scrollHeight;
  }

  function renderHome(data) {
    const home = $("home");
    if (data.home && Array.isArray(data.home.blocks)) home.replaceChildren(renderBlocks(data.home.blocks, null));
    else home.replaceChildren(el("p", "muted", "No App Home published for this user yet."));
  }

  function renderUsers(data) {
    const select = $("user-select");
    if (select.options.length === data.users.length) return;
    select.replaceChildren(...data.users.map((u) => {
      const option = el("option", null, u.name + " (" + u.role + ")");
      option.value = u.id;
      return option;
    }));
    select.value = state.user;
  }

  // --- Modals -------------------------------------------------------------------------

  // The open modal in the dialog: its id, hash and errors (a change re-renders it).
  let shownModal = null;

  function renderModal(data) {
    const modal = data.modal;
    if (!modal) {
      shownModal = null;
      if (dialog && dialog.kind === "modal") closeDialog(null); // submitted or closed
      return;
    }
    const key = [modal.id, modal.view.hash || "", JSON.stringify(modal.errors || {})].join("|");
    if (key === shownModal) return;
    shownModal = key;
    showModal(modal);
  }

  async function showModal(modal) {
    const view = modal.view;
    const form = renderModalForm(view, modal.errors || {});
    const submitted = await openDialog({
      kind: "modal",
      title: view.title ? view.title.text : "Modal",
      body: form,
      confirm: view.submit ? view.submit.text : null,
      deny: view.close ? view.close.text : "Close",
      onConfirm: () => submitModal(modal, form),
    });
    // Cancel, Escape: tell the stand-in (null: closed by the bot or replaced, nothing to say).
    if (submitted === false) {
      shownModal = null;
      post("/console/api/close", { user: state.user, view_id: modal.id });
    }
  }

  function renderModalForm(view, errors) {
    const form = el("form", "modal-form");
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      confirmDialog();
    });
    const values = (view.state && view.state.values) || {};
    for (const block of view.blocks || []) {
      if (block && block.type === "input") form.append(renderInput(block, values, errors));
      else form.append(renderBlocks([block], null));
    }
    return form;
  }

  // An input block as a labelled form control, filled from the view's state (what was
  // submitted last) or the element's initial value, with the bot's error under it.
  function renderInput(block, values, errors) {
    const node = el("div", "block block-input");
    const element = block.element || {};
    const id = "modal-" + block.block_id;
    const label = el("label");
    label.htmlFor = id;
    label.append(plainText(block.label));
    if (block.optional) label.append(el("span", "muted", " (optional)"));
    const current = (values[block.block_id] || {})[element.action_id] || {};
    let control;
    if (element.type === "static_select") {
      control = el("select");
      const chosen = current.selected_option ? current.selected_option.value
        : element.initial_option ? element.initial_option.value : "";
      if (!chosen) {
        const none = el("option", null, element.placeholder ? element.placeholder.text : "Choose");
        none.value = "";
        control.append(none);
      }
      for (const option of element.options || []) {
        const opt = el("option", null, option.text ? option.text.text : option.value);
        opt.value = option.value;
        opt.selected = option.value === chosen;
        control.append(opt);
      }
    } else if (element.type === "plain_text_input") {
      control = el(element.multiline ? "textarea" : "input");
      if (!element.multiline) control.type = "text";
      if (element.placeholder) control.placeholder = element.placeholder.text || "";
      if (element.max_length) control.maxLength = element.max_length;
      control.value = current.value || element.initial_value || "";
    } else {
      node.append(label, el("span", "block-other", "[" + (element.type || "element") + "]"));
      return node;
    }
    control.id = id;
    control.required = !block.optional;
    control.dataset.blockId = block.block_id;
    control.dataset.actionId = element.action_id;
    node.append(label, control);
    if (block.hint) node.append(el("div", "hint", block.hint.text));
    const error = errors[block.block_id];
    if (error) {
      const note = el("div", "field-error", error);
      note.setAttribute("role", "alert");
      control.setAttribute("aria-invalid", "true");
      node.append(note);
    }
    return node;
  }

  // true closes the dialog: the bot accepted. false keeps it: invalid, or the bot's errors.
  async function submitModal(modal, form) {
    if (!form.reportValidity()) return false;
    const values = {};
    for (const control of form.querySelectorAll("[data-block-id]")) {
      const block = (values[control.dataset.blockId] = values[control.dataset.blockId] || {});
      block[control.dataset.actionId] = control.value;
    }
    const answer = await post("/console/api/submit", {
      user: state.user, view_id: modal.id, values,
    });
    return Boolean(answer && !answer.errors); // errors come back with the next state
  }

  function render(data) {
    state.data = data;
    state.users = new Map(data.users.map((u) => [u.id, u]));
    $("channel-name").textContent = "#" + data.channel.name;
    document.title = "#" + data.channel.name + " - fmccert console";
    renderUsers(data);
    renderChannel(data);
    renderHome(data);
    renderModal(data);
  }

  // --- Dialogs and actions ------------------------------------------------------------

  // The open dialog: kind ("confirm" or "modal"), how to answer its opener, and what
  // its confirm button does first (a modal's submission; false keeps the dialog open).
  let dialog = null;

  // Resolves true (confirmed), false (cancelled) or null (closed or replaced by the page).
  function openDialog({ title, body, confirm, deny, confirmStyle, kind, onConfirm }) {
    if (dialog) closeDialog(null);
    $("dialog-title").textContent = title;
    $("dialog-body").replaceChildren(body);
    const confirmButton = $("dialog-confirm");
    confirmButton.hidden = !confirm;
    confirmButton.disabled = false;
    confirmButton.textContent = confirm || "";
    confirmButton.className = "btn " + (confirmStyle === "danger" ? "danger" : "primary");
    $("dialog-deny").textContent = deny || "Cancel";
    $("dialog-backdrop").hidden = false;
    const first = body.querySelector && body.querySelector("input, select, textarea");
    (first || (confirm ? confirmButton : $("dialog-deny"))).focus();
    return new Promise((resolve) => {
      dialog = { kind: kind || "confirm", resolve, onConfirm: onConfirm || null };
    });
  }

  function closeDialog(answer) {
    $("dialog-backdrop").hidden = true;
    const current = dialog;
    dialog = null;
    if (current) current.resolve(answer);
  }

  async function confirmDialog() {
    const current = dialog;
    if (!current) return;
    if (current.onConfirm) {
      const button = $("dialog-confirm");
      button.disabled = true;
      let done = false;
      try {
        done = await current.onConfirm();
      } finally {
        button.disabled = false;
      }
      if (!done || dialog !== current) return; // kept open, or the page moved on meanwhile
    }
    closeDialog(true);
  }

  async function onButton(button, item, message) {
    if (item.confirm) {
      const c = item.confirm;
      const ok = await openDialog({
        title: c.title ? c.title.text : "Are you sure?",
        body: textNode(c.text),
        confirm: c.confirm ? c.confirm.text : "Yes",
        deny: c.deny ? c.deny.text : "Cancel",
        confirmStyle: c.style,
      });
      if (!ok) return;
    }
    button.disabled = true;
    try {
      await post("/console/api/click", {
        user: state.user, channel: message.channel, ts: message.ts, action_id: item.action_id,
      });
    } finally {
      button.disabled = false;
    }
  }

  async function post(path, body) {
    try {
      const response = await fetch(path, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
      });
      const data = await response.json().catch(() => ({ ok: false, error: "bad answer" }));
      if (!response.ok || !data.ok) {
        showStatus(data.error || "request failed (" + response.status + ")", true);
        return null;
      }
      return data;
    } catch (err) {
      showStatus("the console server did not answer", true);
      return null;
    }
  }

  let statusTimer = null;
  function showStatus(text, isError) {
    const node = $("status");
    node.textContent = text;
    node.className = "status" + (isError ? " error" : "");
    node.hidden = false;
    clearTimeout(statusTimer);
    statusTimer = setTimeout(() => { node.hidden = true; }, 5000);
  }

  // --- Long-poll ----------------------------------------------------------------------

  async function pollLoop() {
    for (;;) {
      const controller = new AbortController();
      state.poll = controller;
      const user = state.user;
      const url = "/console/api/state?after=" + state.revision + (user ? "&user=" + encodeURIComponent(user) : "");
      try {
        const response = await fetch(url, { signal: controller.signal, cache: "no-store" });
        const data = await response.json();
        if (!response.ok || !data.ok) throw new Error(data.error || "state failed");
        if (state.user === null) state.user = data.user;
        if (user === state.user || user === null) {
          state.revision = data.revision;
          render(data);
        }
      } catch (err) {
        if (controller.signal.aborted) continue;
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  }

  function restartPoll() {
    state.revision = -1;
    if (state.poll) state.poll.abort();
  }

  function selectTab(tab) {
    state.tab = tab;
    const home = tab === "home";
    $("channel-view").hidden = home;
    $("home-view").hidden = !home;
    $("tab-channel").classList.toggle("active", !home);
    $("tab-home").classList.toggle("active", home);
    $("tab-channel").setAttribute("aria-selected", String(!home));
    $("tab-home").setAttribute("aria-selected", String(home));
    if (home && !state.homeRequested.has(state.user)) {
      state.homeRequested.add(state.user);
      post("/console/api/home", { user: state.user });
    }
  }

  function start() {
    // ?user=ID picks who acts first; otherwise the server answers for its first user.
    state.user = new URLSearchParams(location.search).get("user");
    wire();
  }

  function wire() {
    $("user-select").addEventListener("change", (event) => {
      state.user = event.target.value;
      shownModal = null;
      if (dialog && dialog.kind === "modal") closeDialog(null); // theirs stays open for them
      restartPoll();
      if (state.tab === "home") selectTab("home");
    });
    $("tab-channel").addEventListener("click", () => selectTab("channel"));
    $("tab-home").addEventListener("click", () => selectTab("home"));
    $("home-refresh").addEventListener("click", () => post("/console/api/home", { user: state.user }));
    $("dialog-confirm").addEventListener("click", () => confirmDialog());
    $("dialog-deny").addEventListener("click", () => closeDialog(false));
    document.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && !$("dialog-backdrop").hidden) closeDialog(false);
    });
    $("composer").addEventListener("submit", async (event) => {
      event.preventDefault();
      const input = $("composer-input");
      const text = input.value.trim();
      if (!text || text === "/fmccert") return;
      $("composer-send").disabled = true;
      const answer = await post("/console/api/command", { user: state.user, text });
      $("composer-send").disabled = false;
      if (answer) input.value = "/fmccert ";
      input.focus();
    });
    pollLoop();
  }

  document.addEventListener("DOMContentLoaded", start);
})();
