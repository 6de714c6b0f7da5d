#!/usr/bin/env node
// Drives the Agents Playground's web UI in Debian's Chromium, through playwright-core, for the
// UI tests (tests/ui). One browser per page, each with a fresh profile: one signed-in user per
// Playground, so a test opens one page per person.
//
//   CHROMIUM=/usr/bin/chromium node tools/ui-driver.js
//
// Reads one JSON command per line on stdin and answers each with one JSON line on stdout:
// {"id": <the command's id>, "ok": true, ...} or {"id": ..., "ok": false, "error": "..."}.
// Every wait is bounded by the command's "timeout" (milliseconds, default 10000).
//
//   {"op": "open", "page": "a", "url": "http://127.0.0.1:<port>/", "profile": "<empty dir>"}
//   {"op": "say", "page": "a", "text": "hello"}                  type in the composer, send
//   {"op": "waitText", "page": "a", "text": "Done:"}             a bot message shows the text
//   {"op": "click", "page": "a", "name": "Yes", "card": "Send your request"}
//   {"op": "fill", "page": "b", "label": "Reason (optional)", "text": "...", "card": "..."}
//   {"op": "screenshot", "page": "b", "path": "x.png", "card": "Finance EMEA"}
//   {"op": "buttons", "page": "b", "card": "..."}                the buttons' titles
//   {"op": "cards", "page": "b"}                                  text of every rendered card
//   {"op": "errors", "page": "b"}                                 uncaught errors on the page
//   {"op": "html", "page": "b"}                                   the page's HTML (debugging)
//   {"op": "close"}                                               close everything and exit
//
// "card": act inside the last rendered Adaptive Card (or hero card) whose text contains it;
// without it, inside the whole page. Chromium is kept on loopback: every host name but
// localhost resolves to nothing, and the background services that phone home are off.
"use strict";

const readline = require("readline");
const { chromium } = require("playwright-core");

const LAUNCH_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
];
const DEFAULT_TIMEOUT = 10000;
// Adaptive Cards (the adaptivecards renderer's root) and hero cards (the Playground's own).
const CARD = '.ac-adaptiveCard, [data-tid="hero-card"]';

const contexts = new Map(); // page name -> { context, page, errors }

function pageOf(command) {
  const entry = contexts.get(command.page);
  if (!entry) throw new Error(`no page "${command.page}": open it first`);
  return entry.page;
}

function scope(page, command) {
  if (!command.card) return page.locator("body");
  return page.locator(CARD).filter({ hasText: command.card }).last();
}

const ops = {
  async open(command) {
    if (contexts.has(command.page)) throw new Error(`page "${command.page}" is already open`);
    const executablePath = process.env.CHROMIUM;
    if (!executablePath) throw new Error("CHROMIUM (the browser's path) is not set");
    const context = await chromium.launchPersistentContext(command.profile, {
      executablePath,
      headless: true,
      args: LAUNCH_ARGS,
      viewport: { width: 1100, height: 900 },
      timeout: command.timeout || DEFAULT_TIMEOUT,
    });
    const page = context.pages()[0] || (await context.newPage());
    const errors = [];
    page.on("pageerror", (error) => errors.push(String(error)));
    contexts.set(command.page, { context, page, errors });
    await page.goto(command.url, { timeout: command.timeout || DEFAULT_TIMEOUT });
    // The composer is there once the chat is ready to take a message.
    await page.getByRole("textbox").last().waitFor({ timeout: command.timeout || DEFAULT_TIMEOUT });
    // The log panel takes a third of the window: hide it, so screenshots show the chat.
    const hideLog = page.getByTitle("Hide log panel");
    if (await hideLog.count()) await hideLog.first().click({ timeout: DEFAULT_TIMEOUT });
    return {};
  },

  async say(command) {
    const page = pageOf(command);
    const composer = page.getByRole("textbox").last();
    await composer.fill(command.text, { timeout: command.timeout || DEFAULT_TIMEOUT });
    await page
      .getByRole("button", { name: "Send Message" })
      .click({ timeout: command.timeout || DEFAULT_TIMEOUT });
    return {};
  },

  async waitText(command) {
    const page = pageOf(command);
    await scope(page, command)
      .getByText(command.text, { exact: false })
      .last()
      .waitFor({ timeout: command.timeout || DEFAULT_TIMEOUT });
    return {};
  },

  async click(command) {
    const page = pageOf(command);
    const button = scope(page, command).getByRole("button", { name: command.name, exact: true });
    await button.last().click({ timeout: command.timeout || DEFAULT_TIMEOUT });
    return {};
  },

  async fill(command) {
    const page = pageOf(command);
    const input = scope(page, command).getByLabel(command.label, { exact: false });
    await input.last().fill(command.text, { timeout: command.timeout || DEFAULT_TIMEOUT });
    return {};
  },

  async screenshot(command) {
    const page = pageOf(command);
    const options = { path: command.path, timeout: command.timeout || DEFAULT_TIMEOUT };
    if (command.card) {
      const card = scope(page, command);
      await card.scrollIntoViewIfNeeded({ timeout: options.timeout });
      await card.screenshot(options);
    } else {
      await page.screenshot(options);
    }
    return { path: command.path };
  },

  async buttons(command) {
    const page = pageOf(command);
    return { buttons: await scope(page, command).getByRole("button").allInnerTexts() };
  },

  async cards(command) {
    const page = pageOf(command);
    return { cards: await page.locator(CARD).allInnerTexts() };
  },

  async html(command) {
    return { html: await pageOf(command).content() };
  },

  async errors(command) {
    const entry = contexts.get(command.page);
    return { errors: entry ? entry.errors : [] };
  },
};

async function closeAll() {
  for (const { context } of contexts.values()) {
    await context.close().catch(() => {});
  }
  contexts.clear();
}

function answer(reply) {
  process.stdout.write(JSON.stringify(reply) + "\n");
}

async function main() {
  const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
  for await (const line of lines) {
    if (!line.trim()) continue;
    let command;
    try {
      command = JSON.parse(line);
    } catch (error) {
      answer({ id: null, ok: false, error: `not JSON: ${error.message}` });
      continue;
    }
    if (command.op === "close") {
      await closeAll();
      answer({ id: command.id, ok: true });
      break;
    }
    const op = ops[command.op];
    if (!op) {
      answer({ id: command.id, ok: false, error: `unknown op "${command.op}"` });
      continue;
    }
    try {
      answer({ id: command.id, ok: true, ...(await op(command)) });
    } catch (error) {
      answer({ id: command.id, ok: false, error: String((error && error.message) || error) });
    }
  }
  // stdin closed (the test is gone) or "close": never leave a browser behind.
  await closeAll();
}

main().catch(async (error) => {
  process.stderr.write(`ui-driver: ${error.stack || error}\n`);
  await closeAll();
  process.exit(1);
});
