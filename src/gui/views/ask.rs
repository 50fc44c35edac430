//! The app's questions (a modal dialog): before switching or deleting a list, removing rows or
//! changing the lock-file name would give up the app's locks, and before anything is deleted.

use crate::escape::escape;
use crate::gui::intent::Intent;
use crate::gui::state::{Answer, Ask, Layout, Snapshot};
use eframe::egui::{self, Ui};

pub fn show(ui: &mut Ui, view: &Snapshot<'_>, layout: &mut Layout, intents: &mut Vec<Intent>) {
    let Some(ask) = view.ask else {
        return;
    };
    let (title, text, choices): (&str, String, Vec<(String, Answer)>) = match ask {
        Ask::SwitchList { to, held } => (
            "Switch watch lists?",
            format!(
                "You hold {} in this list that {} does not watch.",
                locks(*held),
                escape(to)
            ),
            vec![
                ("Release and switch".into(), Answer::Release),
                ("Keep holding and switch".into(), Answer::Keep),
            ],
        ),
        Ask::DeleteList { name, dirs, held } => {
            let mut text = format!(
                "Delete the watch list {} ({} {})? This cannot be undone.",
                escape(name),
                dirs,
                if *dirs == 1 {
                    "directory"
                } else {
                    "directories"
                }
            );
            let choices = if *held > 0 {
                text.push_str(&format!(" You hold {} in it.", locks(*held)));
                vec![
                    ("Release and delete".into(), Answer::Release),
                    ("Keep holding and delete".into(), Answer::Keep),
                ]
            } else {
                vec![("Delete".into(), Answer::Release)]
            };
            ("Delete watch list?", text, choices)
        }
        Ask::Remove { dirs, held } => {
            // Named: the question is about these, whatever else is highlighted.
            const NAMED: usize = 5;
            let mut names: Vec<String> = dirs
                .iter()
                .take(NAMED)
                .map(|d| crate::escape::escape_path(d).into_owned())
                .collect();
            if dirs.len() > NAMED {
                names.push(format!("and {} more", dirs.len() - NAMED));
            }
            let mut text = format!(
                "Remove {} from this watch list?\n{}",
                if dirs.len() == 1 {
                    "1 directory".to_string()
                } else {
                    format!("{} directories", dirs.len())
                },
                names.join("\n")
            );
            let label = if *held > 0 {
                text.push_str(&format!(
                    " You hold {} in them: they are released.",
                    locks(*held)
                ));
                "Release and remove"
            } else {
                "Remove"
            };
            (
                "Remove directories?",
                text,
                vec![(label.into(), Answer::Release)],
            )
        }
        Ask::Quit { held } => (
            "Quit and release your locks?",
            format!(
                "You hold {} from this app: quitting releases {}, and certbot can then run there.",
                locks(*held),
                if *held == 1 { "it" } else { "them" }
            ),
            vec![("Release and quit".into(), Answer::Release)],
        ),
        Ask::ReplaceFile { list, path } => (
            "Replace the file?",
            format!(
                "{} already exists. Replace it with the watch list {}? What it holds now is \
                 lost.",
                crate::escape::escape_path(path),
                escape(list)
            ),
            vec![("Replace".into(), Answer::Release)],
        ),
        Ask::LockName {
            lock_name, held, ..
        } => (
            "Change the lock-file name?",
            format!(
                "You hold {} under the current name; watching {} instead would leave them \
                 unwatched. Release them first?",
                locks(*held),
                escape(lock_name)
            ),
            vec![("Release and apply".into(), Answer::Release)],
        ),
    };
    let modal = egui::Modal::new(egui::Id::unique("lockscope-ask")).show(ui.ctx(), |ui| {
        ui.set_max_width(480.0);
        ui.heading(title);
        ui.add_space(4.0);
        ui.label(text);
        ui.add_space(6.0);
        let mut done = false;
        ui.horizontal(|ui| {
            for (label, answer) in choices {
                let button = ui.button(&label);
                layout.button(&label, &button);
                if button.clicked() {
                    intents.push(Intent::Answer(answer));
                    done = true;
                }
            }
            let cancel = ui.button("Cancel");
            layout.button("Cancel", &cancel);
            if cancel.clicked() {
                intents.push(Intent::Answer(Answer::Cancel));
                done = true;
            }
        });
        done
    });
    if modal.should_close() && !modal.inner {
        intents.push(Intent::Answer(Answer::Cancel));
    }
}

/// "1 lock", "3 locks".
fn locks(n: usize) -> String {
    if n == 1 {
        "1 lock".into()
    } else {
        format!("{n} locks")
    }
}
