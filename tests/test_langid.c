// Tests for data/langid: script routing (kana, Han, Hangul, Cyrillic, mixed text), each share
// threshold just either side, the function-word model on sentences written here, "und" for
// code and numbers, and a shared model used from many threads.
#include <stdlib.h>
#include <string.h>

#include "data/langid.h"
#include "test.h"

static li_t *model(void) {
    static li_t *m;
    if (!m) {
        err_t e = {0};
        if (li_init(&m, &e) != 0) test_fail(__FILE__, __LINE__, "li_init: %s", e.msg);
    }
    return m;
}

static li_result_t id(const char *s) { return li_identify(model(), s, strlen(s)); }

#define EXPECT_LANG(text, want)                                                                         \
    do {                                                                                               \
        li_result_t r_ = id(text);                                                                     \
        CHECK_MSG(strcmp(r_.lang, (want)) == 0, "\"%.60s\": got %s (score %.2f, script %s), want %s", \
                  (text), r_.lang, r_.score, r_.script, (want));                                       \
    } while (0)

// n copies of s.
static char *rep(const char *s, int n) {
    size_t k = strlen(s);
    char *out = malloc(k * (size_t)n + 1);
    for (int i = 0; i < n; i++) memcpy(out + k * (size_t)i, s, k);
    out[k * (size_t)n] = 0;
    return out;
}
// a followed by b, malloc'ed.
static char *cat2(const char *a, const char *b) {
    size_t na = strlen(a), nb = strlen(b);
    char *out = malloc(na + nb + 1);
    memcpy(out, a, na), memcpy(out + na, b, nb + 1);
    return out;
}

TEST(langid_japanese_and_chinese) {
    EXPECT_LANG("ひらがなだけでかいたぶんしょうです", "ja");
    EXPECT_LANG("カタカナノテキストデス", "ja");
    // Kanji-heavy Japanese still has its particles.
    EXPECT_LANG("東京都千代田区の国立国会図書館は日本唯一の納本図書館である。", "ja");
    // Han without kana: Chinese.
    EXPECT_LANG("中华人民共和国成立于一九四九年十月一日。", "zh");
    EXPECT_LANG("這是一個用繁體中文寫的句子，沒有任何假名。", "zh");
    li_result_t r = id("ひらがなだけでかいたぶんしょうです");
    CHECK(strcmp(r.script, "Jpan") == 0);
    CHECK(r.share[LI_HIRA] > 0.99f);
    CHECK_NEAR(r.score, 34.0 / LI_FULL_LETTERS, 1e-6);  // 17 kana weigh 34 letters, all of them kana
}

TEST(langid_kana_threshold) {
    // LI_JA_MIN_KANA = 0.05 of the CJK code points: 1 kana in 20 is Japanese, 1 in 21 Chinese.
    char *han19 = rep("漢", 19), *han20 = rep("漢", 20);
    char *a = cat2(han19, "の"), *b = cat2(han20, "の");
    EXPECT_LANG(a, "ja");
    EXPECT_LANG(b, "zh");
    free(han19), free(han20), free(a), free(b);
}

TEST(langid_japanese_with_code) {
    // Japanese technical text with more ASCII than Japanese is still Japanese.
    const char *doc =
        "ファイルの一覧を表示するには、次のコマンドを実行します。\n"
        "    $ ls -la /usr/local/bin | grep --color=auto python3\n"
        "    $ find . -name '*.c' -exec wc -l {} +\n"
        "詳しくは man ls を参照してください。\n";
    EXPECT_LANG(doc, "ja");
    li_result_t r = id(doc);
    CHECK(r.share[LI_LATN] > 0.3f);  // a real mix, not a token one

    // LI_SCRIPT_MIN_SHARE = 0.25 with kana weighing 2: 10 kana and 60 ASCII letters of code are
    // 20 / 80 = 0.25, Japanese; 61 letters fall below, and code alone is "und".
    char *code60 = rep("x_y_z_w_v_u_t_s_r_q_", 3);  // 30 letters
    char *code = cat2(code60, code60);               // 60 letters
    char *ja = cat2("これはにほんごです", "。");      // 9 kana
    char *ja10 = cat2("ね", ja);                     // 10 kana
    char *at = cat2(ja10, code), *past = cat2(at, "a");
    EXPECT_LANG(at, "ja");
    EXPECT_LANG(past, "und");
    free(code60), free(code), free(ja), free(ja10), free(at), free(past);
}

TEST(langid_english_with_japanese_names) {
    EXPECT_LANG("The novelist Haruki Murakami (村上春樹) was born in Kyoto in 1949 and grew up in "
                "Kobe. He studied drama at Waseda University (早稲田大学) in Tokyo, where he met his "
                "wife, and opened a small jazz bar with her before he wrote his first novel.",
                "en");
}

TEST(langid_korean_cyrillic_and_other_scripts) {
    EXPECT_LANG("이 옵션은 설명서 페이지의 데이터베이스를 업데이트합니다.", "ko");
    EXPECT_LANG("大韓民國은 民主共和國이다. 모든 權力은 國民으로부터 나온다.", "ko");  // with hanja
    EXPECT_LANG("Эта программа выводит список файлов, которые были изменены за последние сутки.", "ru");
    EXPECT_LANG("Ця програма виводить список файлів, які були змінені за останню добу.", "uk");
    EXPECT_LANG("Η γρήγορη καφέ αλεπού πηδάει πάνω από τον τεμπέλη σκύλο.", "el");
    EXPECT_LANG("هذا البرنامج يعرض قائمة الملفات التي تم تغييرها خلال اليوم الأخير", "ar");
    EXPECT_LANG("این برنامه فهرست پرونده هایی را که دیروز تغییر کرده اند نشان می دهد", "fa");
    EXPECT_LANG("התוכנית הזאת מציגה את רשימת הקבצים שהשתנו במהלך היום האחרון", "he");
    EXPECT_LANG("โปรแกรมนี้แสดงรายการไฟล์ที่เปลี่ยนแปลงในวันที่ผ่านมา", "th");
    EXPECT_LANG("यह प्रोग्राम उन फ़ाइलों की सूची दिखाता है जो कल बदली गई थीं", "hi");
    // Cyrillic with more Latin letters (names, addresses) than Cyrillic is still Russian.
    EXPECT_LANG("Русский перевод этой страницы был сделан Alexander Golubev <fatzer2@example.org> "
                "и Azamat Hackimov <azamat.hackimov@example.com>.",
                "ru");
}

TEST(langid_latin_languages) {
    EXPECT_LANG("This option tells the program to print the names of the files that it has changed.", "en");
    EXPECT_LANG("Cette option indique au programme d'afficher le nom des fichiers qu'il a modifiés.", "fr");
    EXPECT_LANG("Diese Option sorgt dafür, dass das Programm die Namen der geänderten Dateien ausgibt.", "de");
    EXPECT_LANG("Esta opción hace que el programa muestre los nombres de los archivos que ha cambiado.", "es");
    EXPECT_LANG("Questa opzione fa sì che il programma mostri i nomi dei file che ha modificato.", "it");
    EXPECT_LANG("Esta opção faz com que o programa mostre os nomes dos arquivos que foram alterados.", "pt");
    EXPECT_LANG("Deze optie zorgt ervoor dat het programma de namen van de gewijzigde bestanden toont.", "nl");
    EXPECT_LANG("Ta opcja sprawia, że program wypisuje nazwy plików, które zostały zmienione.", "pl");
    EXPECT_LANG("Det här alternativet gör att programmet skriver ut namnen på de filer som har ändrats.", "sv");
    li_result_t r = id("This option tells the program to print the names of the files that it has changed.");
    CHECK(r.score > 0.5 && r.score <= 1);
    CHECK(strcmp(r.script, "Latn") == 0);
    CHECK(r.hits > 3);
    // Options and code do not count as French elisions: "-l -d -n" is not "l' d' n'".
    EXPECT_LANG("ls -l -d -n -s -c -j", "und");
    EXPECT_LANG("l'homme qu'il voit", "fr");
}

TEST(langid_und) {
    li_result_t r = li_identify(model(), NULL, 0);
    CHECK(strcmp(r.lang, "und") == 0 && r.score == 0 && r.letters == 0);
    CHECK(strcmp(r.script, "Zyyy") == 0);
    EXPECT_LANG("", "und");
    EXPECT_LANG("3.14159 2.71828 1.41421 -- 42 + 17 = 59; 0x7fff", "und");
    EXPECT_LANG("int main(void) { return foo_bar(argc, argv); }", "und");
    EXPECT_LANG("日本", "und");  // 2 kanji weigh 4 letters
    // LI_MIN_LETTERS = 10: nine letters of English words are too few, ten are enough.
    EXPECT_LANG("of the is at", "und");
    EXPECT_LANG("of the is at a", "en");
    r = id("of the is at");
    CHECK(r.letters == 9 && r.score == 0);
}

TEST(langid_reads_only_len_bytes) {
    // A prefix of a longer buffer: what follows len must not count.
    const char *s = "The cat sat on the mat.ТЕКСТ НА РУССКОМ ЯЗЫКЕ ЗДЕСЬ И ЗДЕСЬ";
    size_t len = strlen("The cat sat on the mat.");
    li_result_t r = li_identify(model(), s, len);
    CHECK(strcmp(r.lang, "en") == 0);
    CHECK(r.share[LI_CYRL] == 0.0f);
    // Invalid UTF-8 is skipped byte by byte, and a sequence cut at the end is not read past.
    const char bad[] = "\xff\xfe\xc3 the file is not in the list of files \xe3\x81";
    r = li_identify(model(), bad, sizeof bad - 1);
    CHECK(strcmp(r.lang, "en") == 0);
    double total = 0;
    for (int k = 0; k < LI_NUM_SCRIPTS; k++) total += r.share[k];
    CHECK_NEAR(total, 1.0, 1e-5);
}

TEST(langid_threads_share_a_model) {
    static const char *const texts[] = {
        "ひらがなだけでかいたぶんしょうです", "中华人民共和国成立于一九四九年十月一日。",
        "This option tells the program to print the names of the files that it has changed.",
        "Diese Option sorgt dafür, dass das Programm die Namen der geänderten Dateien ausgibt.",
        "Эта программа выводит список файлов, которые были изменены за последние сутки.",
    };
    enum { N = 5, REPS = 400 };
    li_result_t want[N];
    for (int i = 0; i < N; i++) want[i] = id(texts[i]);
    int bad = 0;
    #pragma omp parallel for reduction(+ : bad) num_threads(4)
    for (int k = 0; k < N * REPS; k++) {
        li_result_t r = li_identify(model(), texts[k % N], strlen(texts[k % N]));
        bad += strcmp(r.lang, want[k % N].lang) != 0 || r.score != want[k % N].score;
    }
    CHECK(bad == 0);
    CHECK(strcmp(li_langs(model())[0], "en") == 0);
    CHECK(strcmp(li_script_name(LI_HANG), "Hang") == 0 && strcmp(li_script_name(LI_NUM_SCRIPTS), "Zyyy") == 0);
    li_free(NULL);
}
