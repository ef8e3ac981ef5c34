//! Issue 15, each hole through the real server and a real Postgres: where a sign-in may
//! send the browser, who a throttle may refuse, what a burst of guesses gets, which sites
//! may post to the API, what sign-in's timing tells, how much a webhook signature header
//! and a metrics label may cost.

mod login;
mod metrics;
mod webhooks;
