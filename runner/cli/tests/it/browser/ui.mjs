// Walks the Cloud Runner's web UI in headless Chromium (Debian's
// /usr/bin/chromium) the way people use it: an admin logs in and registers
// PAYMENTS_API_KEY with a value in Admin > Secrets management; a builder logs
// in, composes a two-step journey in Build mode (the key chosen by name in
// the secret picker, step 1's capture in step 2), saves it, starts it from
// the project's page and watches it pass live; the run page shows the steps
// with the key redacted. Along the way: axe-core
// finds no serious or critical accessibility violation on any screen, the
// register form is usable from the keyboard alone, and the canary value (and
// its encoded forms) is in no page, no network response, no cookie and no
// browser storage.
//
// Every check is counted; the count goes to $REQFLO_BROWSER_CHECKS when set.
// Screenshots of the screens go to $REQFLO_UI_SCREENSHOTS (a folder) when set.
//
// usage: node ui.mjs SERVER_URL ADMIN_TOKEN BUILDER_TOKEN CANARY DEMO_API_URL
import { writeFileSync } from 'node:fs';
import { chromium } from 'playwright-core';
import AxeBuilder from '@axe-core/playwright';

const [, , server, adminToken, builderToken, canary, demoApi] = process.argv;
if (!demoApi) {
  console.error('usage: node ui.mjs SERVER_URL ADMIN_TOKEN BUILDER_TOKEN CANARY DEMO_API_URL');
  process.exit(2);
}

// The forms a leak would take: as written, base64 (standard and url-safe,
// padded or not), hex, percent-encoded, JSON-escaped.
const b64 = Buffer.from(canary).toString('base64');
const forms = [
  canary,
  b64,
  b64.replace(/=+$/, ''),
  Buffer.from(canary).toString('base64url'),
  Buffer.from(canary).toString('hex'),
  encodeURIComponent(canary),
  JSON.stringify(canary).slice(1, -1),
];
const leaks = (text) => forms.find((f) => text.includes(f));

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const fail = async (message) => {
  console.error(message);
  await browser.close();
  process.exit(1);
};
let checks = 0;
const check = async (ok, message) => {
  if (!ok) await fail(message);
  checks += 1;
};
const shots = process.env.REQFLO_UI_SCREENSHOTS;

try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  // Every response body the browser receives, scanned for the canary.
  const bodies = [];
  page.on('response', async (response) => {
    try {
      bodies.push({ url: response.url(), text: await response.text() });
    } catch {
      // A redirect has no body.
    }
  });
  // The run page's event stream, to show progress came by SSE.
  const live = [];
  page.on('request', (request) => { if (request.url().endsWith('/live')) live.push(request.url()); });
  const violations = [];
  page.on('console', (m) => { if (m.type() === 'error') violations.push(`console: ${m.text()}`); });
  const accessible = async (screen) => {
    const result = await new AxeBuilder({ page }).analyze();
    const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
    await check(bad.length === 0,
      `${screen}: accessibility violations: ${bad.map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target).join(' ')}`).join('; ')}`);
  };
  const shoot = async (name) => {
    if (shots) await page.screenshot({ path: `${shots}/${name}.png`, fullPage: true });
  };

  // The admin logs in and lands on Secrets management.
  await page.goto(`${server}/login`);
  await accessible('login');
  await page.fill('#token', adminToken);
  await page.click('button[type=submit]');
  await page.waitForURL('**/admin/secrets');
  await check((await page.locator('h1').innerText()).includes('Secrets management'), 'admin lands on Secrets management');
  await accessible('secrets');

  // Registers the key from the keyboard alone.
  await page.focus('#name');
  await page.keyboard.type('PAYMENTS_API_KEY');
  await page.keyboard.press('Tab');
  await page.keyboard.type('Payments API test key');
  await page.keyboard.press('Tab');
  await page.keyboard.type(canary);
  await check(await page.getAttribute('#value', 'type') === 'password', 'the value field hides what is typed');
  await check(await page.getAttribute('#value', 'autocomplete') === 'new-password', 'the value field is never autofilled');
  await page.keyboard.press('Tab');
  await page.keyboard.type('payment-flow');
  await page.keyboard.press('Tab');
  await page.keyboard.press('Tab');
  await page.keyboard.type('127.0.0.1');
  await page.keyboard.press('Tab');
  await page.keyboard.press('Enter');
  await page.waitForURL('**/admin/secrets/PAYMENTS_API_KEY?done=registered');
  await check((await page.locator('[role=status]').innerText()).includes('will not be shown'), 'registered, with the value withheld');
  await check(await page.inputValue('#value') === '', 'the rotate field opens empty');
  await accessible('secret');
  await page.goto(`${server}/admin/secrets`);
  await shoot('ui-secrets');
  await page.goto(`${server}/admin/audit`);
  await check((await page.content()).includes('secret.created'), 'the audit log has the registration');
  await accessible('audit');
  await page.click('button:has-text("Log out")');
  await page.waitForURL('**/login');

  // A builder composes the journey in Build mode.
  await page.fill('#token', builderToken);
  await page.click('button[type=submit]');
  await page.waitForURL('**/runs');
  await accessible('runs');
  await page.goto(`${server}/projects/shop`);
  await page.click('a:has-text("Build a journey")');
  await page.waitForURL('**/build/shop');
  await accessible('build: steps');
  await page.fill('#journey', 'payment-flow');
  await page.selectOption('#step_0_template', 'post-payment');
  await page.selectOption('#step_1_template', 'get-payment');
  await page.click('button:has-text("Next: values")');
  await page.locator('#v_0_Authorization_source').waitFor();
  await accessible('build: values');
  const picker = await page.locator('#v_0_Authorization_secret option').allInnerTexts();
  await check(picker.includes('PAYMENTS_API_KEY'), `the secret picker offers the key: ${picker}`);
  // The step editor from the keyboard alone: the source, then the secret.
  await page.focus('#v_0_Authorization_source');
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('ArrowDown');
  await check(await page.inputValue('#v_0_Authorization_source') === 'secret', 'the source is chosen from the keyboard');
  await page.keyboard.press('Tab');
  await page.keyboard.press('Tab');
  await page.keyboard.press('Tab');
  await check(await page.evaluate(() => document.activeElement.id) === 'v_0_Authorization_secret', 'Tab reaches the secret picker');
  await page.keyboard.press('ArrowDown');
  await check(await page.inputValue('#v_0_Authorization_secret') === 'PAYMENTS_API_KEY', 'the secret is picked from the keyboard');
  await page.selectOption('#v_0_idempotency_key_source', 'generate');
  await page.selectOption('#v_0_amount_source', 'literal');
  await page.fill('#v_0_amount_literal', '1000');
  await page.fill('#c_0', 'payment_id = $.id');
  await page.fill('#s_0', '201');
  await page.click('button:has-text("Update the pickers")');
  await page.locator('#v_1_id_capture option', { hasText: 'payment_id (from step-1)' }).waitFor({ state: 'attached' });
  await check(await page.inputValue('#v_0_amount_literal') === '1000', 'the form keeps what was chosen');
  await page.selectOption('#v_1_Authorization_source', 'secret');
  await page.selectOption('#v_1_Authorization_secret', 'PAYMENTS_API_KEY');
  await page.selectOption('#v_1_id_source', 'capture');
  await page.selectOption('#v_1_id_capture', 'step-1.payment_id');
  await page.fill('#s_1', '200');
  await page.click('button:has-text("Check and save")');
  await page.locator('#saved').waitFor();
  const saved = await page.locator('#saved').innerText();
  await check(saved.includes('name: PAYMENTS_API_KEY') && saved.includes('step: step-1'), `the saved journey names the key and the capture: ${saved}`);
  await check(!leaks(saved), 'the saved journey holds the key');
  await shoot('ui-build');

  // Edits a value of the saved journey in place: the diff first, then save.
  await page.goto(`${server}/build/shop/edit/payment-flow`);
  await accessible('build: edit');
  await page.fill('input[name="f:steps/0/values/amount"]', '1500');
  await page.click('button:has-text("Show the changes")');
  await page.locator('#diff').waitFor();
  const changes = await page.locator('#diff').innerText();
  await check(changes.includes('amount: 1500') && changes.split('\n').filter((l) => l.startsWith('+')).length === 1,
    `the diff shows the one changed line: ${changes}`);
  await page.click('button:has-text("Save these changes")');
  await page.locator('[role=status]', { hasText: 'Saved.' }).waitFor();

  // Adds a third step with the pickers, then moves it up from the keyboard.
  await page.fill('#add_id', 'step-3');
  await page.selectOption('#add_template', 'get-payment');
  await page.click('button:text-is("Add a step…")');
  await page.locator('#v_2_Authorization_source').waitFor();
  await page.selectOption('#v_2_Authorization_source', 'secret');
  await page.selectOption('#v_2_Authorization_secret', 'PAYMENTS_API_KEY');
  await page.selectOption('#v_2_id_source', 'capture');
  await page.selectOption('#v_2_id_capture', 'step-1.payment_id');
  await accessible('build: add a step');
  await page.click('button:text-is("Show the changes with this step")');
  await page.locator('button:text-is("Save these changes")').waitFor();
  const added = await page.locator('#diff').innerText();
  await check(added.includes('- id: step-3') && added.split('\n').every((l) => !l.startsWith('-')),
    `the diff adds the step and removes nothing: ${added}`);
  await page.click('button:text-is("Save these changes")');
  await page.locator('[role=status]', { hasText: 'Saved.' }).waitFor();
  await page.focus('button[aria-label="Move up: step step-3"]');
  await page.keyboard.press('Enter');
  await page.locator('button:text-is("Save these changes")').waitFor();
  await page.focus('button:text-is("Save these changes")');
  await page.keyboard.press('Enter');
  await page.locator('[role=status]', { hasText: 'Saved.' }).waitFor();
  const order = await page.locator('#steps li').allInnerTexts();
  await check(order.map((t) => t.split(' ')[0]).join(',') === 'step-1,step-3,step-2',
    `the steps are in their new order: ${order.join(' | ')}`);

  // An expectation added to a step in place.
  await page.selectOption('#entry_step', { label: 'step-2' });
  await page.selectOption('#entry_kind', 'json');
  await page.fill('#entry_name', '$.currency');
  await page.fill('#entry_value', 'usd');
  await page.click('button:text-is("Add it…")');
  await page.locator('button:text-is("Save these changes")').waitFor();
  const expectation = await page.locator('#diff').innerText();
  await check(expectation.includes('$.currency: usd'), `the diff adds the expectation: ${expectation}`);
  await page.click('button:text-is("Save these changes")');
  await page.locator('[role=status]', { hasText: 'Saved.' }).waitFor();

  // The template editor: a new template from its parts, then an existing one.
  await page.goto(`${server}/build/shop/templates/new`);
  await accessible('template: new');
  await page.fill('#name', 'whoami');
  await page.fill('#url', '{{base_url}}/v1/me');
  await page.fill('#headers', 'Accept: application/json');
  await page.click('button:text-is("Check and save")');
  await page.locator('#saved').waitFor();
  await check((await page.locator('#saved').innerText()).includes('/v1/me'), 'the new template is saved');
  await page.goto(`${server}/build/shop/templates/get-payment`);
  await accessible('template: edit');

  // Runs it and watches it pass, live (server-sent events, not polling).
  await page.goto(`${server}/projects/shop`);
  await accessible('project');
  await page.selectOption('#journey', 'payment-flow');
  await page.selectOption('#environment', 'sandbox');
  await page.fill('#variables', `base_url=${demoApi}`);
  const runPage = page.waitForResponse((r) => /\/runs\/run_[^/?]+$/.test(r.url()) && r.request().method() === 'GET');
  await page.click('button:has-text("Run")');
  await page.waitForURL('**/runs/run_*');
  // A run that ended before its page was served has nothing left to stream:
  // the page then shows the outcome as it is (and opens no event stream).
  const servedLive = (await (await runPage).text()).includes('sse-connect');
  await page.locator('#steps strong', { hasText: 'passed' }).waitFor({ timeout: 30000 });
  await check(!servedLive || live.some((url) => /\/runs\/run_[^/]+\/live$/.test(url)), `the run page listened for events: ${live.join(' ')}`);
  await check(await page.locator('#steps tbody tr').count() >= 3, 'the run page lists the steps');
  await check(!(await page.locator('#steps').getAttribute('hx-trigger')), 'an ended run stops polling');
  await page.locator('#steps details summary').first().click();
  await check((await page.locator('#steps details pre').first().innerText()).includes('[redacted:PAYMENTS_API_KEY]'),
    'the request dump shows where the key went, never the key');
  await accessible('run');
  await shoot('ui-run');
  await page.goto(`${server}/runs`);
  await check((await page.locator('td.outcome').first().innerText()) === 'passed', 'the history shows the run');

  // The canary is nowhere the browser can see.
  await page.waitForTimeout(300);
  for (const { url, text } of bodies) {
    const form = leaks(text);
    await check(!form, `the response of ${url} holds the key (as ${form})`);
  }
  const cookies = await context.cookies();
  await check(!leaks(JSON.stringify(cookies)), 'a cookie holds the key');
  await check(cookies.every((c) => c.httpOnly && c.sameSite === 'Strict'), 'the session cookie is HttpOnly and SameSite=Strict');
  const storage = await page.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }));
  await check(!leaks(storage), 'browser storage holds the key');
  await check(violations.length === 0, `the pages logged errors (a CSP refusal would): ${violations.join('; ')}`);
  await check(bodies.length > 10, `too few responses were seen (${bodies.length})`);

  console.log(`ui: ${checks} checks passed`);
  if (process.env.REQFLO_BROWSER_CHECKS) {
    writeFileSync(process.env.REQFLO_BROWSER_CHECKS, `checks: ${checks}\n`);
  }
  await browser.close();
} catch (e) {
  await fail(`ui test failed: ${e.stack || e}`);
}
