import { Hono } from "hono";
import { html } from "hono/html";
import type { HtmlEscapedString } from "hono/utils/html";
import {
  answerSurvey,
  PUBLIC_SURVEY_LIFETIME_MS,
  SURVEY_QUESTION,
  type SurveyClosed,
  surveyClosed,
  surveyState,
} from "../../commands";
import { ticketKey } from "../../domain/ticket";

const LABELS: Record<number, string> = { 1: "Very hard", 4: "Neither", 7: "Very easy" };

function page(title: string, body: HtmlEscapedString | Promise<HtmlEscapedString>) {
  return html`<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>${title}</title>
    <style>
      body { font: 16px/1.5 system-ui, sans-serif; max-width: 34rem; margin: 3rem auto; padding: 0 1rem; color: #1f2933; }
      fieldset { border: 0; padding: 0; display: flex; gap: .5rem; flex-wrap: wrap; }
      label { display: flex; flex-direction: column; align-items: center; font-size: .8rem; min-width: 3rem; }
      input[type=radio] { width: 1.4rem; height: 1.4rem; }
      button { margin-top: 1.2rem; font-size: 1rem; padding: .5rem 1.2rem; border-radius: .4rem; border: 1px solid #2563eb; background: #2563eb; color: #fff; }
    </style>
  </head>
  <body>
    ${body}
  </body>
</html>`;
}

/** What a closed survey's page says, by why it closed. */
const CLOSED: Record<Exclude<SurveyClosed, "already_answered">, { title: string; why: string }> = {
  revoked: {
    title: "This survey has closed",
    why: "The request was reopened after this link was sent, so the question no longer applies. When it is resolved again, a new link is sent. Nothing was recorded.",
  },
  expired: {
    title: "This survey link has expired",
    why: `Links posted where anyone can read them count for ${PUBLIC_SURVEY_LIFETIME_MS / 86_400_000} days. Nothing was recorded.`,
  },
};

/** The ticket is named only when it is public: anyone with the link sees this page. */
function about(ticket: string | null): string {
  return ticket === null ? "your request" : `your request ${ticket}`;
}

/** The public, single-use customer-effort survey: no login, the token is the credential. */
export const surveyApp = new Hono<{ Bindings: Env }>()
  .get("/:token", async (c) => {
    const survey = await surveyState(c.env, c.req.param("token"));
    c.header("cache-control", "no-store");
    c.header("referrer-policy", "no-referrer");
    if (survey === undefined)
      return c.html(
        page(
          "Survey not found",
          html`<h1>We could not find this survey.</h1><p>The link may be incomplete.</p>`,
        ),
        404,
      );
    const ticket = survey.ticketPublic ? ticketKey(survey.ticketNumber) : null;
    const closed = surveyClosed(survey, Date.now());
    if (closed === "already_answered") {
      return c.html(
        page(
          "Thank you",
          html`<h1>Thank you — you already answered.</h1><p>The answer for ${about(ticket)} is recorded.</p>`,
        ),
      );
    }
    if (closed !== null) {
      return c.html(
        page(CLOSED[closed].title, html`<h1>${CLOSED[closed].title}.</h1><p>${CLOSED[closed].why}</p>`),
        410,
      );
    }
    const options = [1, 2, 3, 4, 5, 6, 7].map(
      (n) =>
        html`<label><input type="radio" name="score" value="${n}" required aria-label="${n}${LABELS[n] ? ` (${LABELS[n]})` : ""}" />${n}<span>${LABELS[n] ?? ""}</span></label>`,
    );
    return c.html(
      page(
        "How easy was it to get help?",
        html`<h1>${SURVEY_QUESTION}</h1>
          <p>About ${about(ticket)}. 1 is very hard, 7 is very easy.</p>
          <form method="post">
            <fieldset><legend class="visually-hidden">Your answer</legend>${options}</fieldset>
            <button type="submit">Send</button>
          </form>`,
      ),
    );
  })
  .post("/:token", async (c) => {
    c.header("cache-control", "no-store");
    const form = await c.req.parseBody();
    const score = Number(form.score);
    if (!Number.isInteger(score) || score < 1 || score > 7) {
      return c.html(
        page(
          "Pick a number",
          html`<h1>Please pick a number from 1 to 7.</h1><p><a href="">Back to the question</a></p>`,
        ),
        400,
      );
    }
    const result = await answerSurvey(c.env, c.req.param("token"), score);
    if (result.ok)
      return c.html(
        page("Thank you", html`<h1>Thank you!</h1><p>Your answer helps us make support easier.</p>`),
      );
    switch (result.reason) {
      case "already_answered":
        return c.html(
          page(
            "Already answered",
            html`<h1>Thank you — you already answered.</h1><p>We keep the first answer for ${about(result.ticket)}; nothing was changed.</p>`,
          ),
          409,
        );
      case "revoked":
      case "expired":
        return c.html(
          page(
            CLOSED[result.reason].title,
            html`<h1>${CLOSED[result.reason].title}.</h1><p>${CLOSED[result.reason].why}</p>`,
          ),
          410,
        );
      case "unknown":
        return c.html(page("Survey not found", html`<h1>We could not find this survey.</h1>`), 404);
    }
  });
