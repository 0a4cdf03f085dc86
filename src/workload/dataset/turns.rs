//! A dataset's conversations turn by turn (`[workload.sessions]` with a dataset).
//!
//! Each line is one conversation. Every assistant message after the first message is a turn's
//! recorded reply, and that turn's prompt is everything before it, rendered with the
//! generation prompt as the chat endpoint would render it then; messages after the last reply
//! make a final turn whose reply is not recorded (its length is sampled, as a one-turn
//! request's is). A line without assistant messages is a single turn.
//!
//! A turn's block hashes cover its prompt and then its recorded reply, the tokens the engine
//! holds once the turn is done, so the next turn's prompt (which renders the same history)
//! finds them in the prefix cache exactly as far as the template keeps the history's tokens
//! unchanged: a template that rewrites earlier turns (drops reasoning, say) loses those hits,
//! as it does in vLLM.
//!
//! A conversation whose next turn would not fit `max_seq_len` ends at the turn before (its
//! last turn is marked `cut`); a first turn that does not fit is clipped like any prompt.

use serde_json::Value;

use super::request::ChatRequest;
use super::{block_hashes, DatasetPrompt, Loader};
use crate::Result;

/// What a prompt that is one turn of a recorded conversation carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Turn {
    /// Tokens of the recorded reply (at least 1); None for a final turn without one.
    pub reply_len: Option<u32>,
    /// Turns of the conversation after this one; the next is the next prompt of the dataset.
    pub turns_after: u32,
    /// The conversation had more turns, but the next would not fit `max_seq_len`.
    pub cut: bool,
}

/// Each turn's end: (messages in its prompt, the index of its reply if recorded).
fn split(request: &ChatRequest) -> Vec<(usize, Option<usize>)> {
    let is_reply = |i: usize| {
        i > 0 && request.messages[i].get("role").and_then(Value::as_str) == Some("assistant")
    };
    let n = request.messages.len();
    let mut turns: Vec<(usize, Option<usize>)> = (0..n)
        .filter(|&i| is_reply(i))
        .map(|i| (i, Some(i)))
        .collect();
    if turns.last().is_none_or(|&(end, _)| end + 1 < n) {
        turns.push((n, None));
    }
    turns
}

impl Loader<'_> {
    fn ids(&self, line: u64, text: &str, special: bool) -> Result<Vec<u32>> {
        let encoding = self
            .tokenizer
            .encode_fast(text, special)
            .map_err(|e| self.error(line, format!("the tokenizer failed: {e}")))?;
        Ok(encoding.get_ids().to_vec())
    }

    /// One line's conversation as its turns, in order; and whether its first turn was clipped.
    pub(super) fn conversation(&self, line: u64, text: &str) -> Result<(Vec<DatasetPrompt>, bool)> {
        let request = super::request::parse(text).map_err(|m| self.error(line, m))?;
        let ends = split(&request);
        let mut turns: Vec<DatasetPrompt> = Vec::with_capacity(ends.len());
        let mut clipped = false;
        for (k, &(end, reply)) in ends.iter().enumerate() {
            let history = ChatRequest {
                messages: request.messages[..end].to_vec(),
                tools: request.tools.clone(),
                max_tokens: request.max_tokens,
            };
            let prompt = self
                .renderer
                .render(&history)
                .map_err(|m| self.error(line, format!("turn {}: {m}", k + 1)))?;
            let mut ids = self.ids(line, &prompt, self.renderer.add_special_tokens())?;
            if ids.is_empty() {
                return Err(self.error(
                    line,
                    format!("turn {}: the prompt is empty (0 tokens)", k + 1),
                ));
            }
            let fits = ids.len() <= self.max_prompt as usize;
            if !fits && k > 0 {
                let last = turns.last_mut().expect("k > 0");
                if let Some(t) = &mut last.turn {
                    t.cut = true;
                }
                break;
            }
            clipped = !fits;
            ids.truncate(self.max_prompt as usize);
            let prompt_len = ids.len() as u32;
            let reply_len = match reply.filter(|_| fits) {
                Some(i) => {
                    let content = request.messages[i]
                        .get("content")
                        .and_then(Value::as_str)
                        .unwrap_or("");
                    let reply = self.ids(line, content, false)?;
                    ids.extend_from_slice(&reply);
                    // An empty reply still ends with one token (the end of the turn).
                    Some((reply.len() as u32).max(1))
                }
                None => None,
            };
            turns.push(DatasetPrompt {
                prompt_len,
                max_tokens: request.max_tokens,
                block_hashes: block_hashes(&ids, self.block_size),
                line,
                turn: Some(Turn {
                    reply_len,
                    turns_after: 0,
                    cut: !fits && ends.len() > 1,
                }),
            });
            if !fits {
                break;
            }
        }
        let n = turns.len() as u32;
        for (k, p) in turns.iter_mut().enumerate() {
            if let Some(t) = &mut p.turn {
                t.turns_after = n - 1 - k as u32;
            }
        }
        Ok((turns, clipped))
    }
}

#[cfg(test)]
mod tests {
    use super::super::{load, ChatTemplate, DatasetOptions};
    use super::*;
    use std::path::Path;
    use tokenizers::Tokenizer;

    const QWEN: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/data/tokenizers/qwen3/tokenizer.json"
    );
    /// ChatML, which renders a history exactly as it rendered when it was the prompt.
    const CHATML: &str = "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}\
                          <|im_end|>\n{% endfor %}{% if add_generation_prompt %}\
                          <|im_start|>assistant\n{% endif %}";

    fn chatml(messages: &[(&str, &str)]) -> String {
        let mut text: String = messages
            .iter()
            .map(|(role, content)| format!("<|im_start|>{role}\n{content}<|im_end|>\n"))
            .collect();
        text.push_str("<|im_start|>assistant\n");
        text
    }

    fn ids(text: &str) -> Vec<u32> {
        let tokenizer = Tokenizer::from_file(QWEN).unwrap();
        tokenizer.encode(text, false).unwrap().get_ids().to_vec()
    }

    fn load_turns(
        test: &str,
        lines: &[serde_json::Value],
        max_seq_len: u32,
    ) -> super::super::Dataset {
        let dir = std::env::temp_dir().join(format!("il-turns-{}-{test}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("conversations.jsonl");
        let text: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
        std::fs::write(&path, text.join("\n")).unwrap();
        let template = ChatTemplate::Jinja {
            source: CHATML.into(),
        };
        let dataset = load(&DatasetOptions {
            path: &path,
            tokenizer: Path::new(QWEN),
            template: &template,
            max_seq_len,
            block_size: 4,
            limit: None,
            turns: true,
        })
        .unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        dataset
    }

    fn conversation() -> Vec<(&'static str, &'static str)> {
        vec![
            ("system", "You are terse."),
            ("user", "Name three primes below twenty, please."),
            ("assistant", "Two, three and five."),
            ("user", "And their sum?"),
            ("assistant", "Ten."),
            ("user", "Thanks! Now the product?"),
        ]
    }

    fn line(messages: &[(&str, &str)]) -> serde_json::Value {
        let messages: Vec<_> = messages
            .iter()
            .map(|(role, content)| serde_json::json!({"role": role, "content": content}))
            .collect();
        serde_json::json!({ "messages": messages, "max_tokens": 50 })
    }

    #[test]
    fn each_turn_is_its_rendered_history_and_hashes_its_recorded_reply_too() {
        let c = conversation();
        let d = load_turns("render", &[line(&c), line(&c[1..2])], 4096);
        assert_eq!(d.prompts.len(), 4);
        assert_eq!(d.conversations, [0, 3]);
        for (k, (end, reply)) in [(2, Some(2)), (4, Some(4)), (6, None)]
            .into_iter()
            .enumerate()
        {
            let p = &d.prompts[k];
            let prompt = ids(&chatml(&c[..end]));
            assert_eq!(p.prompt_len as usize, prompt.len(), "turn {k}");
            let mut stream = prompt;
            let reply_len = reply.map(|i| {
                let reply = ids(c[i].1);
                stream.extend(&reply);
                reply.len() as u32
            });
            let turn = p.turn.unwrap();
            assert_eq!(turn.reply_len, reply_len, "turn {k}");
            assert_eq!((turn.turns_after, turn.cut), (2 - k as u32, false));
            assert_eq!(p.block_hashes, block_hashes(&stream, 4), "turn {k}");
        }
        // ChatML renders the history as it was: each turn's prompt and reply are the next
        // turn's first tokens, so every full block of them is a hit there.
        for k in 0..2 {
            let (this, next) = (&d.prompts[k], &d.prompts[k + 1]);
            assert_eq!(
                next.block_hashes[..this.block_hashes.len()],
                this.block_hashes[..]
            );
        }
        let single = &d.prompts[3];
        assert_eq!(single.prompt_len as usize, ids(&chatml(&c[1..2])).len());
        assert_eq!(single.turn.unwrap().reply_len, None);
    }

    #[test]
    fn a_conversation_ends_before_the_turn_that_does_not_fit() {
        let c = conversation();
        let second = ids(&chatml(&c[..4])).len() as u32;
        // Room for the second turn's prompt, not the third's.
        let d = load_turns("cut", &[line(&c)], second + 1);
        assert_eq!(d.prompts.len(), 2);
        assert_eq!(d.clipped, 0);
        let turns: Vec<Turn> = d.prompts.iter().map(|p| p.turn.unwrap()).collect();
        assert_eq!((turns[0].turns_after, turns[0].cut), (1, false));
        assert_eq!((turns[1].turns_after, turns[1].cut), (0, true));
        // A first turn that does not fit is clipped, and is the whole conversation.
        let d = load_turns("clip", &[line(&c)], 8);
        assert_eq!((d.prompts.len(), d.clipped), (1, 1));
        assert_eq!(d.prompts[0].prompt_len, 7);
        let turn = d.prompts[0].turn.unwrap();
        assert_eq!(
            (turn.reply_len, turn.turns_after, turn.cut),
            (None, 0, true)
        );
    }

    fn request(roles: &[&str]) -> ChatRequest {
        let messages = roles
            .iter()
            .map(|r| {
                let mut m = serde_json::Map::new();
                m.insert("role".into(), Value::from(*r));
                m.insert("content".into(), Value::from("x"));
                m
            })
            .collect();
        ChatRequest {
            messages,
            tools: None,
            max_tokens: None,
        }
    }

    #[test]
    fn turns_end_at_each_reply_and_what_follows_the_last_is_a_turn_without_one() {
        let r = request(&["system", "user", "assistant", "user", "assistant", "user"]);
        assert_eq!(split(&r), [(2, Some(2)), (4, Some(4)), (6, None)]);
        let r = request(&["user", "assistant", "user", "assistant"]);
        assert_eq!(split(&r), [(1, Some(1)), (3, Some(3))]);
        // No reply: one turn. A leading assistant message is history, not a reply.
        assert_eq!(split(&request(&["user"])), [(1, None)]);
        assert_eq!(
            split(&request(&["assistant", "user"])),
            [(2, None)],
            "a greeting"
        );
    }
}
