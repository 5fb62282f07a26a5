// strings.mjs - the test strings of the tiktoken oracle (make_vectors.mjs encodes each of them
// with every encoding).
//
// STRINGS: [{name, text, special}] in a fixed order; names are unique. `special: true` marks
// the strings that also get an entry encoded with allowed_special "all" (the ones holding
// special-token text, plus a few controls). Invisible or confusable characters are written as
// \u escapes. Everything here is deterministic: the generated texts use a fixed-seed PRNG.

// ---------------------------------------------------------------------------------------------
// Deterministic generator for the long mixed text.

// mulberry32: a small 32-bit PRNG; same seed, same sequence, on every platform.
function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Pieces the random text is made of: words of several scripts, numbers, punctuation, emoji,
// and separators (weighted by repetition).
const PIECES = [
  "the", "quick", "brown", "fox", "Jumps", "OVER", "lazy", "dog's", "don't", "we'll", "I'M",
  "tokenizer", "BPE", "UTF-8", "naïve", "café", "Straße", "œuvre", "ångström",
  "日本語", "東京", "ひらがな", "カタカナ", "です。", "ですね", "トークン化", "漢字かな交じり文",
  "中文", "汉字", "한국어", "안녕하세요", "Привет", "мир", "Ελληνικά", "שלום", "مرحبا",
  "नमस्ते", "ไทย", "ẞ", "ǅ",
  "0", "7", "42", "123", "2024", "3.14159", "1,000,000", "0x1F", "１２３", "٣٤",
  ".", ",", "!", "?", "...", "—", "–", "(", ")", "[", "]", "{", "}", "\"", "'", "`", "#", "@",
  "&&", "||", "->", "=>", "::", "//", "/*", "*/", "<", ">", "、", "。", "「", "」", "！", "？",
  "😀", "🎉", "👍🏽", "👩‍💻", "🇯🇵", "❤️", "1️⃣", "\u0301", "\u3099",
  " ", " ", " ", " ", " ", " ", " ", " ", "  ", "   ", "\t", "\n", "\n", "\n\n", "\r\n", " \n",
  "\u00a0", "\u3000",
];

// randomText(seed, nCodePoints): exactly nCodePoints code points (Array.from(text).length),
// cut at a code point boundary (so never a lone surrogate).
function randomText(seed, nCodePoints) {
  const rnd = mulberry32(seed);
  const cps = [];
  while (cps.length < nCodePoints) cps.push(...PIECES[Math.floor(rnd() * PIECES.length)]);
  return cps.slice(0, nCodePoints).join("");
}

// ---------------------------------------------------------------------------------------------
// The strings. Grouped by theme; the first element of each pair is the name.

const JA_LONG =
  "吾輩は猫である。名前はまだ無い。どこで生れたかとんと見当がつかぬ。何でも薄暗いじめじめした所で" +
  "ニャーニャー泣いていた事だけは記憶している。吾輩はここで始めて人間というものを見た。";

const C_CODE = `#include <stdio.h>

/* sum of squares */
static long sumsq(const int *a, size_t n) {
\tlong s = 0;
\tfor (size_t i = 0; i < n; i++) s += (long)a[i] * a[i];
\treturn s;
}

int main(void) {
    int v[] = {1, 2, 3, 42};
    printf("%ld\\n", sumsq(v, sizeof v / sizeof *v));
    return 0;
}
`;

const PY_CODE = `class Tokenizer:
    """Byte-pair encoder."""

    def __init__(self, ranks: dict[bytes, int]) -> None:
        self.ranks = ranks

    def encode(self, text):
        for piece in self.split(text):
            if piece in self.ranks:
                yield self.ranks[piece]
            else:
                yield from self._merge(piece)  # slow path
\t\t# mixed tabs
        return None
`;

const JSON_TEXT = `{
  "name": "manabi",
  "version": 1.25,
  "tags": ["gpt", "bpe", null, true, false],
  "nested": {"a": [1, 2, {"b": "\\u00e9\\n"}], "empty": {}},
  "unicode": "日本語 ✓"
}`;

const RAW = [
  // --- English
  ["en_hello", "Hello, world!"],
  ["en_sentence", "The quick brown fox jumps over the lazy dog."],
  ["en_paragraph", "In 1969, Apollo 11 landed on the Moon. Neil Armstrong said: \"That's one small step for [a] man, one giant leap for mankind.\" It was 20:17 UTC."],
  ["en_caps", "THIS IS ALL CAPS AND Mixed Case And camelCase And snake_case_names"],
  ["en_camel", "CamelCaseString HTTPServerError XMLHttpRequest iPhone getURLForID parseJSON"],
  ["en_hyphen", "state-of-the-art, well-known, e-mail, co-operate -- and --- dashes"],
  ["en_quotes", "\"double\" 'single' `back` \u201ccurly\u201d \u2018curly\u2019 \u00abguillemets\u00bb"],
  ["en_url_email", "See https://example.com/path/to/page?q=1&r=two#frag or mail me@example.org."],
  ["en_path", "/usr/local/bin/python3 C:\\Windows\\System32 ../../a/b//c/// ./run.sh"],
  ["en_markdown", "# Title\n\n- item *one*\n- item **two**\n\n> quote\n\n```sh\nmake -j8\n```\n"],
  ["en_html", "<div class=\"x\"><p>Hello&nbsp;<b>world</b></p></div>\n</div>\n<br/>"],

  // --- contractions
  ["contr_lower", "don't can't won't I'm you're we've they'll he'd it's"],
  ["contr_upper", "DON'T CAN'T WON'T I'M YOU'RE WE'VE THEY'LL HE'D IT'S"],
  ["contr_mixed", "I'M we'Ve They'lL she'D It'S you'rE WE'vE"],
  ["contr_start", "'s 's 'S 't 're 've 'm 'll 'd"],
  ["contr_alone", "'s"],
  ["contr_quote_runs", "''s '''t 'x 'st 'sss 'lll 'dd 'ree"],
  ["contr_curly", "don\u2019t it\u2019s I\u2019M we\u2019ve"],
  ["contr_digits", "the '90s and 1990's, 5's and 7'll"],
  ["contr_long_s", "it'\u017f IT'\u017fX '\u017f l'\u017f x'\u017fabc"],
  ["contr_kelvin", "x'\u212a ok'\u212aay"],
  ["contr_nonlatin", "日本'sです Привет's ΑΒΓ'S"],

  // --- Japanese
  ["ja_hiragana", "ひらがなだけのぶんしょうです"],
  ["ja_katakana", "カタカナダケノブンショウデス"],
  ["ja_kanji", "漢字文化圏言語処理研究"],
  ["ja_mixed", "今日は良い天気ですね。明日も晴れるでしょうか？"],
  ["ja_ascii", "GPT-4は2023年に発表されました。OpenAIのAPIを使います。"],
  ["ja_fullwidth", "ＡＢＣ　ａｂｃ　１２３４５　！？（）［］｛｝＃＄％＆"],
  ["ja_halfwidth_kana", "ｶﾀｶﾅ ﾊﾝｶｸ ｶﾞｷﾞｸﾞ ﾊﾟﾋﾟﾌﾟ"],
  ["ja_punct", "「こんにちは」と言った。『本』・・・ーー〜〜、。"],
  ["ja_long_run", JA_LONG],
  ["ja_long_repeat", JA_LONG.repeat(4)],
  ["ja_dakuten_nfd", "\u304b\u3099\u304d\u3099\u3050 \u30cf\u309a\u30d2\u309a"],
  ["ja_iteration", "人々 時々 いすゞ こゝろ ゝゞヽヾ"],
  ["ja_newlines", "一行目\n二行目\r\n三行目\n\n　全角スペース始まり"],

  // --- Chinese, Korean
  ["zh_simplified", "我们正在测试分词器，看看它如何处理中文文本。"],
  ["zh_traditional", "我們正在測試分詞器，看看它如何處理繁體中文。"],
  ["zh_mixed", "Python是一种编程语言，版本3.12发布于2023年10月。"],
  ["ko_hangul", "안녕하세요. 한국어 토크나이저 테스트입니다!"],
  ["ko_jamo_nfd", "\u1112\u1161\u11ab\u1100\u1173\u11af"],

  // --- other scripts
  ["cyrillic", "Съешь же ещё этих мягких французских булок, да выпей чаю. ЁЖИК"],
  ["greek", "Ξεσκεπάζω την ψυχοφθόρα βδελυγμία. ΑΒΓΔ αβγδ ς"],
  ["arabic", "مرحبا بالعالم! هذا اختبار ١٢٣."],
  ["arabic_diacritics", "\u0643\u064e\u062a\u064e\u0628\u064e \u0627\u0644\u0652\u0643\u0650\u062a\u064e\u0627\u0628\u064e"],
  ["hebrew", "שָׁלוֹם עוֹלָם 123 hello"],
  ["devanagari", "नमस्ते दुनिया। हिन्दी परीक्षण १२३४"],
  ["thai", "ภาษาไทยไม่มีการเว้นวรรคระหว่างคำ"],
  ["mixed_scripts", "Englishと日本語とРусскийと中文と한국어とالعربيةの混在text123テスト"],
  ["mixed_no_space", "abcあいうДЖЗ123漢字xyz"],

  // --- Latin with diacritics, normalization forms
  ["latin_nfc", "caf\u00e9 na\u00efve r\u00e9sum\u00e9 \u00c5ngstr\u00f6m \u00f1and\u00fa Stra\u00dfe \u0153uvre"],
  ["latin_nfd", "cafe\u0301 nai\u0308ve re\u0301sume\u0301 A\u030angstro\u0308m n\u0303andu\u0301"],
  ["latin_upper_nfd", "CAFE\u0301 E\u0301COLE A\u0300 \u00c9COLE"],
  ["combining_stack", "Z\u0351\u036b\u0343\u036a\u0302\u036b\u033d\u034f\u0334\u0319\u0324\u031e\u0349\u035a\u032f\u031e\u0320\u034dA\u036b\u0357\u0334\u0362\u0335\u031c\u0330\u0354L\u0368\u0367\u0369\u0358\u0320G\u0311\u0357\u030e\u0305\u035b\u0341\u0334\u033b\u0348\u034d\u0354\u0339O"],
  ["combining_alone", "\u0301\u0301 a \u0308 \u20dd x\u20e3"],
  ["ligatures", "\ufb01nance \ufb02oat \u01c5 \u01c6 \u1e9e \u0130stanbul \u0131"],
  ["vietnamese", "Tiếng Việt có dấu: Ở đây người ta nói tiếng Việt."],

  // --- code
  ["code_c", C_CODE],
  ["code_python", PY_CODE],
  ["code_json", JSON_TEXT],
  ["code_js", "const f = (a, b) => a?.b ?? b; // arrow\nlet s = `x=${f(1, 2)}`;\n"],
  ["code_shell", "for f in *.txt; do echo \"$f\"; done 2>&1 | tee -a log.txt\n"],
  ["code_operators", "a+=b; a-=b; a**=2; a//=3; x<<=1; y>>>=2; z!==w; p->q; r::s; t=>u"],
  ["code_indent", "def f():\n    if x:\n        return 1\n    else:\n\treturn 2\n\n\n"],
  ["code_trailing", "int x = 1;   \nint y = 2;\t\n}\n"],

  // --- emoji
  ["emoji_simple", "😀😃😄 👍 ❤ ✨ 🎉"],
  ["emoji_zwj_family", "👨‍👩‍👧‍👦 👩‍👩‍👧 👨‍👨‍👦‍👦"],
  ["emoji_zwj_other", "👩‍💻 🧑‍🚀 🏳️‍🌈 🏴‍☠️ 👁️‍🗨️ ❤️‍🔥"],
  ["emoji_flags", "🇯🇵🇺🇸🇬🇧🇫🇷 🇩🇪 🇪🇺"],
  ["emoji_flag_tags", "\u{1f3f4}\u{e0067}\u{e0062}\u{e0065}\u{e006e}\u{e0067}\u{e007f}"],
  ["emoji_skin_tones", "👋🏻 👋🏼 👋🏽 👋🏾 👋🏿 🧑🏽‍🤝‍🧑🏿"],
  ["emoji_vs16", "\u2764\ufe0f \u263a\ufe0f \u2764\ufe0e \u00a9\ufe0f abc\ufe0fdef"],
  ["emoji_keycaps", "1\ufe0f\u20e3 2\ufe0f\u20e3 #\ufe0f\u20e3 *\ufe0f\u20e3 10"],
  ["emoji_in_text", "I love 🍕 and 🍣!! Great job👏👏👏 see you🙂"],

  // --- whitespace
  ["ws_single_space", " "],
  ["ws_two_spaces", "  "],
  ["ws_spaces_words", "a b  c   d    e     f"],
  ["ws_leading", "   leading spaces"],
  ["ws_trailing", "trailing spaces   "],
  ["ws_before_newline", "line one   \nline two \n\nline three\t \n"],
  ["ws_newlines", "\n\n\n"],
  ["ws_crlf", "a\r\nb\r\n\r\nc\r\n"],
  ["ws_cr_only", "a\rb\r\rc\r"],
  ["ws_tabs", "\ta\t\tb\t\t\tc\t"],
  ["ws_mixture", " \t \n \r\n\t\t  \n   x  \t y \n"],
  ["ws_space_newline_space", "x \n y  \n\n  z"],
  ["ws_only_mixture", " \t\n \r\n \t "],
  ["ws_vt_ff", "a\u000bb\u000cc \u000b\u000c d"],
  ["ws_unicode_spaces", "a\u00a0b\u2002c\u2003d\u2009e\u200af\u202fg\u205fh\u3000i\u1680j"],
  ["ws_unicode_lines", "a\u2028b\u2029c\u0085d \u0085e"],
  ["ws_nbsp_runs", "x\u00a0\u00a0\u00a0y \u00a0 z"],
  ["ws_not_space", "zero\u200bwidth no\u200cjoin \u200dj \ufeffbom \u180emvs \u2060wj"],
  ["ws_bom_start", "\ufeffhello"],

  // --- digits
  ["digits_1", "1"],
  ["digits_12", "12"],
  ["digits_123", "123"],
  ["digits_1234", "1234"],
  ["digits_12345678", "12345678"],
  ["digits_long", "3141592653589793238462643383279502884197169399375105820974944"],
  ["digits_spaced", "1 12 123 1234 12345 123456 1234567"],
  ["digits_decimals", "3.14 0.001 -2.5e10 1e-9 .5 5. 1,234,567.89 1.2.3"],
  ["digits_letters", "abc123def 123abc x1y2z3 v2 H2O 3D 4K 1st 2nd 3rd 100km 5kg"],
  ["digits_punct", "(555) 123-4567 2024-06-01T12:34:56Z 192.168.0.1:8080 $1,000 50% #42"],
  ["digits_unicode", "１２３４５ ٣٤٥ १२३ ①②③ ½ ¾ ² ³ Ⅻ ⅷ 〇 𝟙𝟚𝟛"],
  ["digits_after_space", " 1  22   333    4444"],

  // --- punctuation
  ["punct_runs", "!!! ??? ... ,,, ;;; ::: --- ___ === +++ *** ### $$$ %%% ^^^ &&& |||"],
  ["punct_mixed", "?!?! .,;: ()[]{}<> \"'` ~@#$%^&*-_=+\\|/"],
  ["punct_newlines", "end.\n\n...\n---\n***\r\n"],
  ["punct_slashes", "a/b//c///d http:// </div>\n//comment\n/* c */"],
  ["punct_space_prefix", "x !y ?z .w ,v"],
  ["punct_long", "-".repeat(100) + "=".repeat(50) + "\n" + "#".repeat(40)],
  ["punct_unicode", "\u2014\u2013\u2026\u00b7\u2022\u203b\u2605\u2606\u2192\u21d2\u221e\u2260\u00a7\u00b6\u00bf\u00a1"],

  // --- special-token text (encode_ordinary: plain text; some also with allowed_special all)
  ["special_eot", "<|endoftext|>", true],
  ["special_eot_in_text", "Hello<|endoftext|>World", true],
  ["special_eot_spaced", "end of doc. <|endoftext|> Next doc", true],
  ["special_eot_newlines", "doc one\n<|endoftext|>\ndoc two\n", true],
  ["special_eot_twice", "<|endoftext|><|endoftext|>", true],
  ["special_fim", "<|fim_prefix|>def f(x):<|fim_suffix|>\n    return y<|fim_middle|>", true],
  ["special_endofprompt", "prompt text<|endofprompt|>completion", true],
  ["special_partial", "<|endoftext| <|endoftext <|endoftext |> <|ENDOFTEXT|> <||> <|", true],
  ["special_unknown", "<|im_start|>user\nhi<|im_end|>", true],
  ["special_nested", "<|<|endoftext|>|>", true],

  // --- edge cases
  ["empty", "", true],
  ["char_a", "a"],
  ["char_A", "A"],
  ["char_space_a", " a"],
  ["char_newline", "\n"],
  ["char_tab", "\t"],
  ["char_quote", "'"],
  ["char_dot", "."],
  ["char_0", "0"],
  ["char_e_acute", "\u00e9"],
  ["char_ja", "あ"],
  ["char_kanji", "日"],
  ["char_emoji", "😀"],
  ["char_fffd", "\ufffd"],
  ["fffd_text", "bad \ufffd\ufffd bytes\ufffdhere"],
  ["controls", "a\u0000b\u0001c\u001fd\u007fe\u0080f\u009fg"],
  ["noncharacters", "\ufffe \uffff \u{1fffe} \u{10ffff} \ufdd0"],
  ["private_use", "\ue000\uf8ff \u{f0000} \u{100000}"],
  ["astral_letters", "\u{1d400}\u{1d401}\u{1d402} \u{20000}\u{2a6d6} \u{10330}\u{10331} \u{1f600}"],
  ["surrogate_range_neighbors", "\ud7ff\ue000"],
  ["bytes_2_3_4", "\u0080\u07ff\u0800\uffff\u{10000}\u{10ffff}"],
  ["a_x1000", "a".repeat(1000)],
  ["space_x1000", " ".repeat(1000)],
  ["newline_x200", "\n".repeat(200)],
  ["digit_x300", "7".repeat(300)],
  ["ja_x300", "あ".repeat(300)],
  ["word_repeat", "hello ".repeat(200)],
  ["random_3000", randomText(20240601, 3000)],
  ["random_500_b", randomText(7, 500)],
];

export const STRINGS = RAW.map(([name, text, special]) => ({ name, text, special: special === true }));

// Sanity checks, so that a careless edit fails loudly rather than producing odd vectors.
{
  const seen = new Set();
  for (const { name, text } of STRINGS) {
    if (!/^[a-z0-9_A-Z]+$/.test(name)) throw new Error(`strings.mjs: bad name ${JSON.stringify(name)}`);
    if (seen.has(name)) throw new Error(`strings.mjs: duplicate name ${name}`);
    seen.add(name);
    // (a lone surrogate would not survive UTF-8 encoding; /u matches only unpaired ones)
    if (typeof text !== "string" || /[\ud800-\udfff]/u.test(text)) throw new Error(`strings.mjs: ${name}: lone surrogate`);
  }
  if (Array.from(STRINGS.find((s) => s.name === "random_3000").text).length !== 3000)
    throw new Error("strings.mjs: random_3000 is not 3000 code points");
}
