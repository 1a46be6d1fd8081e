/** A server-side switch: while blocked, answers wait; `release()` sends every waiting answer. */
export class Hold {
  blocked = false;
  #waiting = [];

  block() {
    this.blocked = true;
  }

  release() {
    this.blocked = false;
    const waiting = this.#waiting;
    this.#waiting = [];
    for (const answer of waiting) answer();
  }

  /** Runs `answer` now, or on `release()` while blocked. */
  answer(answer) {
    if (this.blocked) this.#waiting.push(answer);
    else answer();
  }

  /** `undefined` when open, else a promise that resolves on `release()`. */
  wait() {
    return this.blocked ? new Promise((resolve) => this.#waiting.push(resolve)) : undefined;
  }
}
