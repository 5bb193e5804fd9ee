// RTOC websocket client for the browser: requests answered in order, pushes as events.
//
// RTOC responses carry no request id; every response holds the key "error", pushes
// (signal, event, pluginList, client) never do. So responses resolve the oldest pending
// request, and everything else is dispatched as a push. `authorize` is answered with an
// `authorized` frame and then one more frame ({"error": false} or a second
// {"authorized": false}); both belong to it.

export class NotAuthorized extends Error {
  constructor(msg = "not authorized") {
    super(msg);
    this.name = "NotAuthorized";
  }
}

export class PasswordMode extends Error {
  constructor() {
    super("the hub sends encrypted frames (RTOC password mode)");
    this.name = "PasswordMode";
  }
}

export class RequestFailed extends Error {
  constructor(request, response) {
    super(`request failed: ${Object.keys(request).join(", ")}` +
      (response && (response.reason || response.message) ?
        `: ${response.reason || response.message}` : ""));
    this.name = "RequestFailed";
    this.response = response;
  }
}

/** Default websocket URL: the page's own host and port. */
export function defaultUrl(loc = window.location) {
  return `${loc.protocol === "https:" ? "wss" : "ws"}://${loc.host}/`;
}

export class RtocClient extends EventTarget {
  constructor({ url = defaultUrl(), timeoutMs = 15000 } = {}) {
    super();
    this.url = url;
    this.timeoutMs = timeoutMs;
    this.ws = null;
    this.pending = [];
    this.open = false;
    this.authorized = false;
    this.user = null;
    this.permission = null;
    this.frames = 0;
  }

  /** Open the socket; resolves when connected. */
  connect() {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(this.url);
      this.ws = ws;
      ws.onopen = () => {
        this.open = true;
        this.dispatchEvent(new CustomEvent("open"));
        resolve(this);
      };
      ws.onerror = () => {
        if (!this.open) reject(new Error(`cannot connect to ${this.url}`));
      };
      ws.onclose = (ev) => {
        const was = this.open;
        // RTOC password mode: a plain frame does not decrypt, and the hub closes with
        // 1008 "wrong password" (it sends nothing encrypted to a client without the key)
        const passwordMode = !this.authorized && ev.code === 1008 && ev.reason === "wrong password";
        this.open = false;
        this.authorized = false;
        for (const p of this.pending.splice(0)) {
          clearTimeout(p.timer);
          p.reject(passwordMode ? new PasswordMode() : new Error("connection closed"));
        }
        if (passwordMode) {
          // retrying cannot help until the hub's configuration changes: say so and stop
          this.dispatchEvent(new CustomEvent("garbage", { detail: ev.reason }));
          return;
        }
        if (was) this.dispatchEvent(new CustomEvent("close", { detail: ev }));
      };
      ws.onmessage = (ev) => this._onFrame(ev.data);
    });
  }

  close() {
    if (this.ws) this.ws.close();
  }

  _onFrame(text) {
    this.frames += 1;
    let msg;
    try {
      msg = JSON.parse(text);
    } catch (_e) {
      // not JSON: an RTOC hub in password mode that answers with encrypted frames
      for (const p of this.pending.splice(0)) {
        clearTimeout(p.timer);
        p.reject(new PasswordMode());
      }
      this.dispatchEvent(new CustomEvent("garbage", { detail: text }));
      return;
    }
    if (msg === null || typeof msg !== "object") return;
    const head = this.pending[0];
    if (head && head.auth) {
      if (head.authFrame === undefined && "authorized" in msg) {
        head.authFrame = msg;
        // the second frame normally follows at once; do not hang if it never comes
        head.authTimer = setTimeout(() => this._finishAuth(head), 500);
        return;
      }
      if (head.authFrame !== undefined && ("error" in msg || "authorized" in msg)) {
        Object.assign(head.authFrame, msg, { authorized: head.authFrame.authorized });
        this._finishAuth(head);
        return;
      }
    }
    if ("error" in msg) {
      if (!head) return;
      this.pending.shift();
      clearTimeout(head.timer);
      if (head.timedOut) return; // the late answer of a request already given up
      if (msg.error === false) head.resolve(msg);
      else head.reject(new RequestFailed(head.request, msg));
      return;
    }
    if (Object.keys(msg).length === 1 && msg.authorized === false) {
      // the server refused a request of ours: we are not (or no longer) logged in
      this.authorized = false;
      if (head) {
        this.pending.shift();
        clearTimeout(head.timer);
        head.reject(new NotAuthorized());
      }
      this.dispatchEvent(new CustomEvent("unauthorized"));
      return;
    }
    for (const key of Object.keys(msg)) {
      this.dispatchEvent(new CustomEvent(key, { detail: msg[key] }));
    }
  }

  _finishAuth(head) {
    if (this.pending[0] !== head) return;
    this.pending.shift();
    clearTimeout(head.timer);
    clearTimeout(head.authTimer);
    const reply = head.authFrame;
    this.authorized = reply.authorized === true;
    head.resolve(reply);
  }

  /** Send one request object; resolves with the response frame (rejects on error). */
  request(obj, { timeoutMs = this.timeoutMs } = {}) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) {
      return Promise.reject(new Error("not connected"));
    }
    return new Promise((resolve, reject) => {
      const entry = { request: obj, resolve, reject, auth: "authorize" in obj };
      // Answers carry no request id, only their order: a request that times out keeps its
      // place in the queue (its late answer is dropped there), or the answer would be
      // taken for the next request's.
      entry.timer = setTimeout(() => {
        entry.timedOut = true;
        reject(new Error(`no answer to ${Object.keys(obj).join(", ")} in ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.push(entry);
      this.ws.send(JSON.stringify(obj));
    });
  }

  /** Log in as a hub user; resolves with {authorized, user, permission}. */
  async login(user, password) {
    const reply = await this.request({ authorize: { user, password } });
    if (reply.authorized === true) {
      this.user = reply.user || user;
      this.permission = reply.permission || await this.rights();
    }
    return reply;
  }

  /**
   * This connection's rights when the server does not say: `getSignalList` needs "read";
   * an empty `plugin` request changes nothing but needs "write".
   */
  async rights() {
    try {
      await this.request({ getSignalList: true });
    } catch (e) {
      if (e instanceof RequestFailed) return "custom";
      throw e;
    }
    try {
      await this.request({ plugin: {} });
      return "write";
    } catch (e) {
      if (e instanceof RequestFailed) return "read";
      throw e;
    }
  }

  /** Probe whether requests work without a login (anonymous read, or no auth at all). */
  async probe() {
    try {
      await this.request({ getSignalList: true });
      this.authorized = true;
      this.permission = await this.rights();
      return true;
    } catch (e) {
      if (e instanceof NotAuthorized) return false;
      throw e;
    }
  }
}
