//! `include:`: a step that runs another journey's steps in its place. The
//! included journey's inputs are given by the step's `values:` (any value
//! source: a secret stays a handle, by name); its captures pass out under
//! the step's id; its step ids are the step's id, `/`, then their own.

use std::collections::HashSet;
use std::sync::Arc;

use indexmap::IndexMap;
use serde_json::Value;

use super::build::Planner;
use super::{Fill, PlannedStep};
use crate::error::{Diagnostic, Error, Result};
use crate::project::load::list_or_none;

/// Journeys included within journeys included …, at most this deep.
const MAX_DEPTH: usize = 8;

/// What an `include:` step cannot say: it runs the other journey's steps,
/// which say these for themselves.
const NOT_ON_INCLUDE: [&str; 9] = [
    "template",
    "capture",
    "expect",
    "hooks",
    "retries",
    "until",
    "poll",
    "when",
    "follow_redirects",
];

impl Planner<'_> {
    /// Plan the steps of the journey being planned, in order, an
    /// `include:` step by the steps of the journey it names.
    pub(super) fn plan_steps(
        &mut self,
        steps: &mut Vec<PlannedStep>,
        variables: &Arc<IndexMap<String, Value>>,
    ) -> Result<()> {
        let journey = self.journey;
        for (index, def) in journey.file.steps.iter().enumerate() {
            if def.include.is_some() {
                self.include(index, steps, variables)?;
            } else {
                let step = self.step(index, steps, variables)?;
                steps.push(step);
            }
        }
        Ok(())
    }

    /// Step `index`, an `include:`: the named journey's steps, planned with
    /// the values it gives as their inputs.
    fn include(
        &mut self,
        index: usize,
        steps: &mut Vec<PlannedStep>,
        variables: &Arc<IndexMap<String, Value>>,
    ) -> Result<()> {
        let journey = self.journey;
        let def = &journey.file.steps[index];
        let i = index.to_string();
        let name = def.include.as_deref().unwrap_or_default();
        let at = ["steps", i.as_str(), "include"];
        for field in NOT_ON_INCLUDE {
            if self.source.key(&["steps", &i, field]).is_some() {
                return Err(Error::Definition(
                    Diagnostic::new(format!(
                        "an `include:` step takes `values:` only, not `{field}:`"
                    ))
                    .at(self.source.key(&["steps", &i, field]))
                    .hint(format!(
                        "the steps of journey `{name}` say what they expect and capture"
                    )),
                ));
            }
        }
        let id = format!("{}{}", self.prefix, def.id);
        if !self.step_ids.insert(id.clone()) {
            return Err(self.definition(
                format!("step id `{}` is used twice", def.id),
                &["steps", &i, "id"],
            ));
        }
        if self.stack.iter().any(|n| n == name) {
            let cycle = [self.stack.as_slice(), &[name.to_string()]]
                .concat()
                .join(" → ");
            return Err(self.definition(format!("journeys include each other: {cycle}"), &at));
        }
        if self.stack.len() > MAX_DEPTH {
            return Err(
                self.definition(format!("includes go deeper than {MAX_DEPTH} journeys"), &at)
            );
        }
        let inner = self.project.journey(name).map_err(|e| match e {
            Error::Usage(message) => self.definition(message, &at),
            other => other,
        })?;
        if inner.file.for_each.is_some() {
            return Err(self.definition(
                format!("journey `{name}` has `for_each:`; an included journey runs once"),
                &at,
            ));
        }
        let mut bound = IndexMap::new();
        for (input, raw) in &def.values {
            if !inner.file.inputs.contains_key(input) {
                let names: Vec<String> = inner.file.inputs.keys().cloned().collect();
                return Err(Error::Definition(
                    Diagnostic::new(format!("journey `{name}` declares no input `{input}`"))
                        .at(self.source.key(&["steps", &i, "values", input]))
                        .hint(format!("its inputs: {}", list_or_none(&names))),
                ));
            }
            let fill = self.fill(
                &["steps", &i, "values", input],
                input,
                raw,
                steps,
                variables,
            )?;
            bound.insert(input.clone(), fill);
        }
        let mut stack = self.stack.clone();
        stack.push(name.to_string());
        let mut sub = Planner {
            env_hooks: self.env_hooks.clone(),
            project: self.project,
            providers: self.providers,
            journey: &inner,
            source: &inner.source,
            options: self.options,
            row: None,
            root: self.root,
            prefix: format!("{id}/"),
            bound: Some(bound),
            stack,
            chain: self.chain.clone(),
            // Shared with the journey around it: one plan, one list of
            // secrets, one set of step ids.
            templates: std::mem::take(&mut self.templates),
            secrets: std::mem::take(&mut self.secrets),
            used_inputs: HashSet::new(),
            step_ids: std::mem::take(&mut self.step_ids),
            paths: std::mem::take(&mut self.paths),
        };
        let planned = sub.plan_steps(steps, variables);
        self.templates = sub.templates;
        self.secrets = sub.secrets;
        self.step_ids = sub.step_ids;
        self.paths = sub.paths;
        planned
    }

    /// An input of an included journey: what its `include:` step gives,
    /// else its default.
    pub(super) fn bound_input(&self, path: &[&str], input: &str) -> Result<Fill> {
        if let Some(fill) = self.bound.as_ref().and_then(|b| b.get(input)) {
            return Ok(fill.clone());
        }
        match self.journey.file.inputs.get(input).and_then(|d| d.default.clone()) {
            Some(value) => Ok(Fill::Value(value)),
            None => Err(Error::Definition(
                Diagnostic::new(format!(
                    "journey `{}` is included without a value for its input `{input}`, which has no default",
                    self.journey.name
                ))
                .at(self.source.value(&[path, &["name"]].concat()))
                .hint(format!(
                    "give it in the `include:` step's values: `{input}: …`, or declare a default"
                )),
            )),
        }
    }
}
