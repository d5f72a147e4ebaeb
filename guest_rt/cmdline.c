#include <string.h>

#include "cmdline.h"

static bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

void cmdline_parse(struct cmdline *cl, const char *text)
{
    size_t out = 0;
    cl->count = 0;
    cl->dropped = 0;
    if (!text)
        text = "";
    const char *p = text;
    for (;;) {
        while (is_blank(*p))
            p++;
        if (!*p)
            break;
        if (out >= sizeof(cl->storage) - 1)
            break;
        char *word = &cl->storage[out];
        char *key_end = NULL;
        bool quoted = false;
        while (*p && (quoted || !is_blank(*p)) && out < sizeof(cl->storage) - 1) {
            if (*p == '"') {
                quoted = !quoted;
                p++;
                continue;
            }
            if (*p == '=' && !key_end && !quoted)
                key_end = &cl->storage[out];
            cl->storage[out++] = *p++;
        }
        cl->storage[out++] = '\0';
        /* Skip whatever did not fit (the rest of an over-long word). */
        while (*p && !is_blank(*p))
            p++;
        if (cl->count >= CMDLINE_MAX_WORDS) {
            cl->dropped++;
            continue;
        }
        size_t i = cl->count++;
        cl->word[i] = word;
        if (key_end) {
            /* The word is stored as "key=value": keep word intact, and store
             * key and value separately after it when there is room. */
            size_t key_len = (size_t)(key_end - word);
            if (out + key_len + 1 <= sizeof(cl->storage)) {
                char *key = &cl->storage[out];
                memcpy(key, word, key_len);
                key[key_len] = '\0';
                out += key_len + 1;
                cl->key[i] = key;
            } else {
                cl->key[i] = "";
            }
            cl->value[i] = key_end + 1;
        } else {
            cl->key[i] = word;
            cl->value[i] = "";
        }
    }
    cl->storage[out < sizeof(cl->storage) ? out : sizeof(cl->storage) - 1] = '\0';
}

const char *cmdline_get(const struct cmdline *cl, const char *key)
{
    for (size_t i = cl->count; i-- > 0;)
        if (strcmp(cl->key[i], key) == 0)
            return cl->value[i];
    return NULL;
}

bool cmdline_parse_u64(const char *text, uint64_t *out)
{
    if (!text || !*text)
        return false;
    unsigned base = 10;
    if (text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
        base = 16;
        text += 2;
    }
    uint64_t v = 0;
    const char *p = text;
    for (; *p; p++) {
        unsigned digit;
        if (*p >= '0' && *p <= '9')
            digit = (unsigned)(*p - '0');
        else if (base == 16 && *p >= 'a' && *p <= 'f')
            digit = (unsigned)(*p - 'a' + 10);
        else if (base == 16 && *p >= 'A' && *p <= 'F')
            digit = (unsigned)(*p - 'A' + 10);
        else
            break;
        if (v > (UINT64_MAX - digit) / base)
            return false;
        v = v * base + digit;
    }
    if (p == text)
        return false;
    unsigned shift = 0;
    if (*p == 'k' || *p == 'K')
        shift = 10;
    else if (*p == 'M')
        shift = 20;
    else if (*p == 'G')
        shift = 30;
    if (shift)
        p++;
    if (*p)
        return false;
    if (shift && v > (UINT64_MAX >> shift))
        return false;
    *out = v << shift;
    return true;
}
