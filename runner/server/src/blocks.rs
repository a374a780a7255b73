//! Structural edits of a journey's steps in place: add, remove, move. The
//! `steps:` list is cut into one block of lines per step (with the comment
//! lines just above it), and the blank lines between blocks stay where they
//! are, so the file keeps its comments, order and formatting except where
//! the edit is. As with [`crate::edit::replace_scalar`], the result is
//! parsed again and must equal the old document with exactly that change.

use reqflo_core::source::Source;

/// A change to the list of steps.
#[derive(Debug, Clone, PartialEq)]
pub enum StepChange {
    /// Remove step `i` (0-based).
    Remove(usize),
    /// Swap step `i` with the one before it.
    Up(usize),
    /// Swap step `i` with the one after it.
    Down(usize),
    /// Add a step at the end.
    Append(serde_yaml::Value),
}

impl StepChange {
    /// The change as a form writes it: `remove:2`, `up:1`, `down:0`
    /// (`Append` comes from its own fields).
    pub fn parse(text: &str) -> Option<StepChange> {
        let (what, index) = text.split_once(':')?;
        let index: usize = index.parse().ok()?;
        match what {
            "remove" => Some(StepChange::Remove(index)),
            "up" => Some(StepChange::Up(index)),
            "down" => Some(StepChange::Down(index)),
            _ => None,
        }
    }
}

/// The lines of `steps:`: where each step's block starts and ends (line
/// indices, end exclusive), and the dash's column.
struct Layout {
    blocks: Vec<(usize, usize)>,
    indent: usize,
}

/// Apply `change` to the journey `text`. Errors say why, never quoting
/// values.
pub fn change_steps(text: &str, change: &StepChange) -> Result<String, String> {
    let old: serde_yaml::Value =
        serde_yaml::from_str(text).map_err(|e| format!("the journey does not parse: {e}"))?;
    let steps = old
        .get("steps")
        .and_then(serde_yaml::Value::as_sequence)
        .ok_or("the journey has no list of steps")?;
    let count = steps.len();
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let layout = layout(text, &lines, count)?;
    let in_range = |i: usize| {
        (i < count)
            .then_some(i)
            .ok_or_else(|| format!("there is no step {}", i + 1))
    };
    let mut expected = steps.clone();
    // The blocks in their new order (`None` is the new step's text).
    let mut order: Vec<Option<usize>> = (0..count).map(Some).collect();
    match change {
        StepChange::Remove(i) => {
            let i = in_range(*i)?;
            if count == 1 {
                return Err("a journey needs at least one step".into());
            }
            order.remove(i);
            expected.remove(i);
        }
        StepChange::Up(i) | StepChange::Down(i) => {
            let i = in_range(*i)?;
            let other = match change {
                StepChange::Up(_) => i.checked_sub(1),
                _ => (i + 1 < count).then_some(i + 1),
            }
            .ok_or("that step cannot move further")?;
            order.swap(i, other);
            expected.swap(i, other);
        }
        StepChange::Append(step) => {
            order.push(None);
            expected.push(step.clone());
        }
    }
    let new_block = match change {
        StepChange::Append(step) => block_text(step, layout.indent)?,
        _ => String::new(),
    };
    let edited = assemble(&lines, &layout, &order, &new_block);
    // The proof: the new document is the old one with exactly this change.
    let mut want = old.clone();
    if let Some(slot) = want.get_mut("steps") {
        *slot = serde_yaml::Value::Sequence(expected);
    }
    let got: serde_yaml::Value = serde_yaml::from_str(&edited)
        .map_err(|_| "the change would not parse; nothing was changed".to_string())?;
    if got != want {
        return Err("the change would alter more than the steps; nothing was changed".into());
    }
    Ok(edited)
}

/// Cut `steps:` into blocks. Only a block list (`- ` items, one per
/// step) can be edited this way; a flow list (`[…]`) is refused.
fn layout(text: &str, lines: &[&str], count: usize) -> Result<Layout, String> {
    let source = Source::from_text("edit.yaml".into(), "edit.yaml".into(), text.to_string());
    let flow = || {
        "the steps are not written one `- ` item per step (a flow list?); edit the file itself"
            .to_string()
    };
    let mut starts = Vec::with_capacity(count);
    let mut indent = None;
    for i in 0..count {
        let index = i.to_string();
        let spot = source.value(&["steps", &index]).ok_or_else(flow)?;
        let line = spot.line.checked_sub(1).ok_or_else(flow)?;
        let row = lines.get(line).ok_or_else(flow)?;
        // The step's line starts with its dash: `    - id: …`.
        let column = row.len() - row.trim_start_matches(' ').len();
        if !row[column..].starts_with("- ") {
            return Err(flow());
        }
        if indent.is_some_and(|c| c != column) || starts.last().is_some_and(|&l| l >= line) {
            return Err(flow());
        }
        indent = Some(column);
        starts.push(line);
    }
    let indent = indent.ok_or("the journey has no steps")?;
    let is_blank = |l: &str| l.trim().is_empty();
    let indent_of = |l: &str| l.len() - l.trim_start_matches(' ').len();
    let inside = |l: &str| !is_blank(l) && indent_of(l) > indent;
    let mut blocks = Vec::with_capacity(count);
    for (i, &start) in starts.iter().enumerate() {
        // The comment lines just above the dash go with the step.
        let floor = if i == 0 { 0 } else { starts[i - 1] + 1 };
        let mut first = start;
        while first > floor && lines[first - 1].trim_start().starts_with('#') {
            first -= 1;
        }
        // Up to the last line indented deeper than the dash, before the
        // next step (or the first line that is not).
        let limit = starts.get(i + 1).copied().unwrap_or(lines.len());
        let mut end = start + 1;
        let mut at = start + 1;
        while at < limit && (is_blank(lines[at]) || inside(lines[at])) {
            if inside(lines[at]) {
                end = at + 1;
            }
            at += 1;
        }
        blocks.push((first, end));
    }
    // Leading comments of a step are above its dash and after the block
    // before: the blocks must not overlap.
    for pair in blocks.windows(2) {
        if pair[0].1 > pair[1].0 {
            return Err(flow());
        }
    }
    Ok(Layout { blocks, indent })
}

/// The file again, its step blocks in `order` (`None`: `new_block`), the
/// text between blocks where it was.
fn assemble(lines: &[&str], layout: &Layout, order: &[Option<usize>], new_block: &str) -> String {
    let blocks = &layout.blocks;
    let join = |from: usize, to: usize| -> String {
        let mut text: String = lines[from..to].concat();
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        text
    };
    let first = blocks.first().map_or(0, |b| b.0);
    let last = blocks.last().map_or(lines.len(), |b| b.1);
    // The text between blocks `k` and `k + 1`; a new last block is set off
    // as the last one before it was.
    let gaps: Vec<String> = blocks.windows(2).map(|w| join(w[0].1, w[1].0)).collect();
    let mut out = join(0, first);
    for (k, slot) in order.iter().enumerate() {
        if k > 0 {
            let gap = gaps.get(k - 1).or(gaps.last()).cloned().unwrap_or_default();
            out.push_str(&gap);
        }
        match slot {
            Some(i) => out.push_str(&join(blocks[*i].0, blocks[*i].1)),
            None => out.push_str(new_block),
        }
    }
    let rest: String = lines[last..].concat();
    out.push_str(&rest);
    out
}

/// A step written as a block item at `indent`.
fn block_text(step: &serde_yaml::Value, indent: usize) -> Result<String, String> {
    let yaml = serde_yaml::to_string(step).map_err(|e| e.to_string())?;
    let pad = " ".repeat(indent);
    let mut out = String::new();
    for (n, line) in yaml.lines().enumerate() {
        let lead = if n == 0 { "- " } else { "  " };
        out.push_str(&format!("{pad}{lead}{line}\n"));
    }
    Ok(out)
}

/// Add `key: value` to the mapping at `map_path` (a step's `capture`, its
/// `expect`, `expect.json`, …), made if it is missing, after the last
/// entry of the nearest mapping that exists, at its entries' indentation.
/// Only block mappings (one entry a line) are edited this way.
pub fn insert_entry(
    text: &str,
    map_path: &[&str],
    key: &str,
    value: serde_yaml::Value,
) -> Result<String, String> {
    let old: serde_yaml::Value =
        serde_yaml::from_str(text).map_err(|e| format!("the journey does not parse: {e}"))?;
    // The nearest mapping on the way that exists, and the keys still to make.
    let mut have = 0;
    let mut node = &old;
    for part in map_path {
        match lookup_child(node, part) {
            Some(child) if child.is_mapping() || child.is_sequence() => {
                node = child;
                have += 1;
            }
            Some(_) => return Err(format!("`{}` is not a list of entries", map_path.join("."))),
            None => break,
        }
    }
    let missing = &map_path[have..];
    let existing = &map_path[..have];
    let map = node.as_mapping().ok_or("there is nothing to add to")?;
    if missing.is_empty() && map.contains_key(key) {
        return Err(format!(
            "`{key}` is there already; change its value instead"
        ));
    }
    let inline = || {
        format!(
            "`{}` is written on one line; edit the file itself",
            existing.join(".")
        )
    };
    let source = Source::from_text("edit.yaml".into(), "edit.yaml".into(), text.to_string());
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    // Where its entries are: each key on a line of its own, at one column.
    let mut key_lines = Vec::new();
    let mut column = None;
    for name in map.keys().filter_map(|k| k.as_str()) {
        let mut path = existing.to_vec();
        path.push(name);
        let spot = source.key(&path).ok_or_else(inline)?;
        if column.is_some_and(|c| c != spot.column) || key_lines.contains(&spot.line) {
            return Err(inline());
        }
        column = Some(spot.column);
        key_lines.push(spot.line);
    }
    let (Some(column), Some(&last)) = (column, key_lines.iter().max()) else {
        return Err(inline());
    };
    // A mapping under a key must start on a line of its own (`values:
    // {x: 1}` is one line).
    if let Some(spot) = existing
        .last()
        .filter(|k| k.parse::<usize>().is_err())
        .and_then(|_| source.key(existing))
        && key_lines.contains(&spot.line)
    {
        return Err(inline());
    }
    let indent = column - 1;
    let is_blank = |l: &str| l.trim().is_empty();
    let indent_of = |l: &str| l.len() - l.trim_start_matches(' ').len();
    // Its last entry ends at the last line indented deeper than its key.
    let mut end = last;
    let mut at = last;
    while at < lines.len() && (is_blank(lines[at]) || indent_of(lines[at]) > indent) {
        if !is_blank(lines[at]) {
            end = at + 1;
        }
        at += 1;
    }
    // The entry, inside the mappings still to make.
    let mut entry = serde_yaml::Mapping::new();
    entry.insert(key.into(), value.clone());
    let mut made = serde_yaml::Value::Mapping(entry);
    for part in missing.iter().rev() {
        let mut outer = serde_yaml::Mapping::new();
        outer.insert((*part).into(), made);
        made = serde_yaml::Value::Mapping(outer);
    }
    let yaml = serde_yaml::to_string(&made).map_err(|e| e.to_string())?;
    let pad = " ".repeat(indent);
    let mut inserted = String::new();
    for line in yaml.lines() {
        inserted.push_str(&format!("{pad}{line}\n"));
    }
    let mut before: String = lines[..end].concat();
    if !before.ends_with('\n') {
        before.push('\n');
    }
    let edited = format!("{before}{inserted}{}", lines[end..].concat());
    // The proof: the old document with exactly this entry added.
    let mut want = old.clone();
    let mut slot = &mut want;
    for part in map_path {
        slot = match slot {
            serde_yaml::Value::Sequence(list) => part
                .parse::<usize>()
                .ok()
                .and_then(|i| list.get_mut(i))
                .ok_or("there is no such step")?,
            serde_yaml::Value::Mapping(map) => map
                .entry((*part).into())
                .or_insert_with(|| serde_yaml::Value::Mapping(serde_yaml::Mapping::new())),
            _ => return Err(format!("`{}` is not a list of entries", map_path.join("."))),
        };
    }
    if let Some(map) = slot.as_mapping_mut() {
        map.insert(key.into(), value);
    }
    let got: serde_yaml::Value = serde_yaml::from_str(&edited)
        .map_err(|_| "the change would not parse; nothing was changed".to_string())?;
    if got != want {
        return Err("the change would alter more than that entry; nothing was changed".into());
    }
    Ok(edited)
}

/// A mapping's value at `key`, or a sequence's item at index `key`.
fn lookup_child<'a>(node: &'a serde_yaml::Value, key: &str) -> Option<&'a serde_yaml::Value> {
    match node {
        serde_yaml::Value::Mapping(map) => map.get(key),
        serde_yaml::Value::Sequence(list) => key.parse::<usize>().ok().and_then(|i| list.get(i)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const JOURNEY: &str = "\
description: three steps # kept
steps:
  # the first
  - id: one
    template: a
    values: {x: 1}

  - id: two
    template: b
    # inside two
    expect:
      status: 200

  # about three
  - id: three
    template: c
after: kept
";

    fn ids(text: &str) -> Vec<String> {
        let doc: serde_yaml::Value = serde_yaml::from_str(text).expect("parses");
        doc["steps"]
            .as_sequence()
            .expect("steps")
            .iter()
            .map(|s| s["id"].as_str().unwrap_or_default().to_string())
            .collect()
    }

    #[test]
    fn moving_a_step_takes_its_comments_and_keeps_the_gaps() {
        let edited = change_steps(JOURNEY, &StepChange::Up(2)).expect("moves");
        assert_eq!(ids(&edited), ["one", "three", "two"]);
        assert!(edited.contains("  # about three\n  - id: three\n    template: c\n\n  - id: two"));
        assert!(edited.contains("    # inside two\n"));
        assert!(edited.ends_with("      status: 200\nafter: kept\n"));
        let back = change_steps(&edited, &StepChange::Down(1)).expect("moves back");
        assert_eq!(back, JOURNEY);
    }

    #[test]
    fn removing_a_step_removes_its_lines_only() {
        let edited = change_steps(JOURNEY, &StepChange::Remove(1)).expect("removes");
        assert_eq!(ids(&edited), ["one", "three"]);
        assert!(!edited.contains("inside two"));
        assert!(edited.starts_with("description: three steps # kept\n"));
        assert_eq!(edited.lines().count(), JOURNEY.lines().count() - 6);
    }

    #[test]
    fn a_new_step_goes_last_at_the_steps_indent() {
        let step: serde_yaml::Value =
            serde_yaml::from_str("{id: four, template: d}").expect("step");
        let edited = change_steps(JOURNEY, &StepChange::Append(step)).expect("adds");
        assert_eq!(ids(&edited), ["one", "two", "three", "four"]);
        assert!(edited.contains("    template: c\n\n  - id: four\n    template: d\nafter: kept\n"));
    }

    #[test]
    fn bad_changes_are_refused_and_say_why() {
        let one = "steps:\n- template: a\n";
        assert!(
            change_steps(one, &StepChange::Remove(0)).is_err_and(|e| e.contains("at least one"))
        );
        assert!(change_steps(JOURNEY, &StepChange::Up(0)).is_err_and(|e| e.contains("further")));
        assert!(change_steps(JOURNEY, &StepChange::Down(2)).is_err_and(|e| e.contains("further")));
        assert!(
            change_steps(JOURNEY, &StepChange::Remove(7)).is_err_and(|e| e.contains("no step 8"))
        );
        let flow = "steps: [{template: a}, {template: b}]\n";
        assert!(change_steps(flow, &StepChange::Up(1)).is_err_and(|e| e.contains("flow list")));
        assert_eq!(StepChange::parse("down:3"), Some(StepChange::Down(3)));
        assert_eq!(StepChange::parse("sideways:1"), None);
        assert_eq!(StepChange::parse("up:x"), None);
    }

    #[test]
    fn entries_are_added_where_their_kind_is_at_its_indentation() {
        let at = |text: &str, path: &[&str], key: &str, value: &str| {
            let value: serde_yaml::Value = serde_yaml::from_str(value).expect("value");
            insert_entry(text, path, key, value)
        };
        // A new `capture:` for step 0, after its last entry (not after the
        // blank line), with the comments kept.
        let edited = at(JOURNEY, &["steps", "0", "capture"], "payment_id", "$.id").expect("adds");
        assert!(
            edited.contains(
                "    values: {x: 1}\n    capture:\n      payment_id: $.id\n\n  - id: two"
            ),
            "{edited}"
        );
        // Into an `expect:` that exists, making its `json:`.
        let edited = at(JOURNEY, &["steps", "1", "expect", "json"], "$.ok", "true").expect("adds");
        assert!(
            edited
                .contains("      status: 200\n      json:\n        $.ok: true\n\n  # about three"),
            "{edited}"
        );
        // Into a mapping that exists.
        let edited = at(JOURNEY, &["steps", "1", "expect"], "headers", "{a: b}").expect("adds");
        assert!(
            edited.contains("      status: 200\n      headers:\n        a: b\n"),
            "{edited}"
        );
        // The last step, at the end of the steps.
        let edited = at(JOURNEY, &["steps", "2", "expect"], "status", "204").expect("adds");
        assert!(
            edited.contains("    template: c\n    expect:\n      status: 204\nafter: kept\n"),
            "{edited}"
        );
        // Refused: a key that is there, a flow mapping, no such step.
        assert!(
            at(JOURNEY, &["steps", "1", "expect"], "status", "201")
                .is_err_and(|e| e.contains("there already"))
        );
        assert!(
            at(JOURNEY, &["steps", "0", "values"], "y", "2").is_err_and(|e| e.contains("one line"))
        );
        assert!(at(JOURNEY, &["steps", "9", "capture"], "a", "$.a").is_err());
    }

    #[test]
    fn a_last_line_without_a_newline_still_moves() {
        let text = "steps:\n- template: a\n- template: b";
        let edited = change_steps(text, &StepChange::Up(1)).expect("moves");
        assert_eq!(edited, "steps:\n- template: b\n- template: a\n");
    }
}
